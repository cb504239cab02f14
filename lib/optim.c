/* Adam/AdamW and SGD with momentum over flat buffers. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "learning-private.h"
#include "net-private.h"
#include "pool-private.h"
#include "rows-private.h"
#include "scorematch/optim.h"

enum { KIND_ADAM = SM__OPTIM_ADAM, KIND_SGD = SM__OPTIM_SGD };

/* Model files (lib/model.c) store every field through sm__optim_get_state():
 * a new field that changes future updates needs a new format version. */
struct sm_optim {
    int kind;
    size_t n;
    double lr, beta1, beta2, eps, weight_decay, momentum, clip;
    uint64_t t;
    float *m, *v; /* Adam moments, or SGD velocity in m */
};

static int bad_rate(double x)
{
    return !isfinite(x) || !(x > 0.0);
}

static sm_status alloc_optim(sm_optim **out, int kind, size_t n, const char *fn)
{
    if (sm__array_too_big(n, 1, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: %zu parameters is too many", fn, n);
    sm_optim *o = calloc(1, sizeof *o);
    if (!o)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    o->kind = kind;
    o->n = n;
    o->m = sm__calloc(n, sizeof(float));
    o->v = kind == KIND_ADAM ? sm__calloc(n, sizeof(float)) : NULL;
    if (!o->m || (kind == KIND_ADAM && !o->v)) {
        sm_optim_free(o);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, n);
    }
    *out = o;
    return SM_OK;
}

sm_status sm_optim_new_adam(sm_optim **out, size_t num_params, double lr, double beta1,
                            double beta2, double eps, double weight_decay)
{
    const char *fn = "sm_optim_new_adam";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (num_params == 0 || bad_rate(lr) || bad_rate(eps) || !(beta1 >= 0.0 && beta1 < 1.0) ||
        !(beta2 >= 0.0 && beta2 < 1.0) || !(weight_decay >= 0.0) || !isfinite(weight_decay))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: need num_params >= 1, lr > 0, betas in [0,1), eps > 0, weight_decay >= 0",
                         fn);
    sm_status st = alloc_optim(out, KIND_ADAM, num_params, fn);
    if (st)
        return st;
    (*out)->lr = lr;
    (*out)->beta1 = beta1;
    (*out)->beta2 = beta2;
    (*out)->eps = eps;
    (*out)->weight_decay = weight_decay;
    return SM_OK;
}

sm_status sm_optim_new_sgd(sm_optim **out, size_t num_params, double lr, double momentum,
                           double weight_decay)
{
    const char *fn = "sm_optim_new_sgd";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (num_params == 0 || bad_rate(lr) || !(momentum >= 0.0 && momentum < 1.0) ||
        !(weight_decay >= 0.0) || !isfinite(weight_decay))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: need num_params >= 1, lr > 0, momentum in [0,1), weight_decay >= 0",
                         fn);
    sm_status st = alloc_optim(out, KIND_SGD, num_params, fn);
    if (st)
        return st;
    (*out)->lr = lr;
    (*out)->momentum = momentum;
    (*out)->weight_decay = weight_decay;
    return SM_OK;
}

void sm_optim_free(sm_optim *opt)
{
    if (!opt)
        return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

sm_status sm_optim_set_lr(sm_optim *opt, double lr)
{
    if (!opt || bad_rate(lr))
        return sm__error(SM_ERR_INVALID_ARG, "sm_optim_set_lr: need an optimizer and a finite lr > 0");
    opt->lr = lr;
    return SM_OK;
}

double sm_optim_lr(const sm_optim *opt)
{
    return opt ? opt->lr : 0.0;
}

sm_status sm_optim_set_clip_norm(sm_optim *opt, double max_norm)
{
    if (!opt || !isfinite(max_norm) || max_norm < 0.0)
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_optim_set_clip_norm: need an optimizer and a finite max_norm >= 0");
    opt->clip = max_norm;
    return SM_OK;
}

uint64_t sm_optim_steps(const sm_optim *opt)
{
    return opt ? opt->t : 0;
}

sm_status sm_optim_reset(sm_optim *opt)
{
    if (!opt)
        return sm__error(SM_ERR_INVALID_ARG, "sm_optim_reset: opt is NULL");
    memset(opt->m, 0, opt->n * sizeof(float));
    if (opt->v)
        memset(opt->v, 0, opt->n * sizeof(float));
    opt->t = 0;
    return SM_OK;
}

/* One Adam step over n parameters with the gradient scaled by `scale`
 * (opt->t already counts it). A loop of its own so that it is built for
 * the CPU's vector width (SM_MULTIVERSION): the same bits on every variant,
 * as all operations are exact IEEE ones and nothing is contracted. */
/* The constants of one Adam step. */
typedef struct {
    float b1, b2, step, inv_sqrt_bc2, eps, decay;
    int decayed;
} adam_consts;

static adam_consts adam_consts_of(const sm_optim *opt)
{
    const double bc1 = 1.0 - pow(opt->beta1, (double)opt->t);
    const double bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
    /* θ −= lr·m̂/(√v̂ + ε) written as step·m/(√v/√bc2 + ε), PyTorch's order. */
    adam_consts k = {(float)opt->beta1, (float)opt->beta2, (float)(opt->lr / bc1),
                     (float)(1.0 / sqrt(bc2)), (float)opt->eps,
                     (float)(1.0 - opt->lr * opt->weight_decay), opt->weight_decay > 0.0};
    return k;
}

/* Elements [0, n) of the buffers given (a slice of the whole: every element
 * is updated on its own, so slicing changes no bit). With `backup`, the
 * parameters before the update are kept there and the return value tells
 * whether an updated parameter is not finite, in the same pass (the
 * trainer's undo of a diverging step, which would otherwise take two more
 * passes over the parameters). */
SM_MULTIVERSION
static int adam_update(const adam_consts *k, float *params, const float *grads,
                       float *restrict m, float *restrict v, float *restrict backup, size_t n,
                       float scale)
{
    const float b1 = k->b1, b2 = k->b2, step = k->step, inv_sqrt_bc2 = k->inv_sqrt_bc2;
    const float eps = k->eps, decay = k->decay;
    const int decayed = k->decayed;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * scale;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        const float p0 = params[i];
        if (backup)
            backup[i] = p0;
        float p = decayed ? p0 * decay : p0;
        p = p - step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        params[i] = p;
        bad |= !(fabsf(p) <= FLT_MAX);
    }
    return bad;
}

/* One slice of an Adam step per pool shard. */
typedef struct {
    const adam_consts *k;
    sm_optim *opt;
    float *params, *backup;
    const float *grads;
    float scale;
    size_t n, shards;
    int bad[256]; /* per shard: an updated parameter is not finite */
} adam_job;

static void adam_job_run(void *ctx, size_t s)
{
    adam_job *j = ctx;
    size_t first, count = sm__slice(j->n, j->shards, s, &first);
    j->bad[s] = count ? adam_update(j->k, j->params + first, j->grads + first, j->opt->m + first,
                                    j->opt->v + first, j->backup ? j->backup + first : NULL,
                                    count, j->scale)
                      : 0;
}

/* sm_optim_step() with messages that name fn; with a pool, Adam's update
 * runs in `shards` slices on it (the same bits as one thread). With
 * `backup` (n floats), the parameters before the update are kept there and
 * *diverged tells whether an updated one is not finite. */
static sm_status step_on(sm_optim *opt, float *params, const float *grads, size_t n,
                         sm__pool *pool, size_t shards, float *backup, int *diverged,
                         const char *fn)
{
    if (!opt || !params || !grads)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (n != opt->n)
        return sm__error(SM_ERR_SHAPE, "%s: %zu parameters, the optimizer was made for %zu", fn,
                         n, opt->n);
    /* A bad gradient leaves parameters and moments untouched. With clipping
     * the norm's pass is the check; without, the (vectorized) finiteness
     * scan is. */
    float scale = 1.0f;
    size_t bad = n;
    if (opt->clip > 0.0) {
        double sq = 0.0;
        for (size_t i = 0; i < n; i++)
            sq += (double)grads[i] * (double)grads[i];
        if (!isfinite(sq))
            bad = sm__first_nonfinite(grads, n);
        else if (sqrt(sq) > opt->clip)
            scale = (float)(opt->clip / sqrt(sq));
    } else {
        bad = sm__first_nonfinite(grads, n);
    }
    if (bad < n)
        return sm__error(SM_ERR_NONFINITE, "%s: gradient %zu is not finite; nothing was updated",
                         fn, bad);
    opt->t++;
    if (opt->kind == KIND_ADAM) {
        const adam_consts k = adam_consts_of(opt);
        int bad_update = 0;
        /* Below a few cache pages per thread, waking threads costs more. */
        if (pool && shards > 1 && n >= SM__MIN_SLICE * shards) {
            adam_job j = {&k, opt, params, backup, grads, scale, n, shards, {0}};
            sm__pool_run(pool, adam_job_run, &j, shards);
            for (size_t s = 0; s < shards; s++)
                bad_update |= j.bad[s];
        } else {
            bad_update = adam_update(&k, params, grads, opt->m, opt->v, backup, n, scale);
        }
        if (diverged)
            *diverged = bad_update;
        return SM_OK;
    }
    if (backup)
        memcpy(backup, params, n * sizeof(float));
    {
        const float mu = (float)opt->momentum, lr = (float)opt->lr;
        const float wd = (float)opt->weight_decay;
        float *u = opt->m;
        for (size_t i = 0; i < n; i++) {
            float g = grads[i] * scale + wd * params[i];
            u[i] = opt->t == 1 ? g : mu * u[i] + g;
            params[i] -= lr * u[i];
        }
    }
    if (diverged)
        *diverged = sm__first_nonfinite(params, n) < n;
    return SM_OK;
}

size_t sm__optim_size(const sm_optim *opt)
{
    return opt->n;
}

void sm__optim_get_state(const sm_optim *opt, sm__optim_state *state)
{
    state->kind = opt->kind;
    state->n = opt->n;
    state->lr = opt->lr;
    state->beta1 = opt->beta1;
    state->beta2 = opt->beta2;
    state->eps = opt->eps;
    state->weight_decay = opt->weight_decay;
    state->momentum = opt->momentum;
    state->clip = opt->clip;
    state->t = opt->t;
    state->m = opt->m;
    state->v = opt->v;
}

void sm__optim_restore(sm_optim *opt, uint64_t t, const float *m, const float *v)
{
    opt->t = t;
    memcpy(opt->m, m, opt->n * sizeof(float));
    if (opt->v && v)
        memcpy(opt->v, v, opt->n * sizeof(float));
}

static sm_status step(sm_optim *opt, float *params, const float *grads, size_t n,
                      const char *fn)
{
    return step_on(opt, params, grads, n, NULL, 1, NULL, NULL, fn);
}

sm_status sm__optim_step_pool(sm_optim *opt, sm_net *net, float *backup, int *diverged,
                              const char *fn)
{
    return step_on(opt, sm_net_params(net), sm_net_grads(net), sm_net_num_params(net),
                   sm__net_pool(net), sm_net_threads(net), backup, diverged, fn);
}

sm_status sm_optim_step(sm_optim *opt, float *params, const float *grads, size_t n)
{
    return step(opt, params, grads, n, "sm_optim_step");
}

sm_status sm_optim_step_net(sm_optim *opt, sm_net *net)
{
    if (!net)
        return sm__error(SM_ERR_INVALID_ARG, "sm_optim_step_net: net is NULL");
    return step(opt, sm_net_params(net), sm_net_grads(net), sm_net_num_params(net), "sm_optim_step_net");
}
