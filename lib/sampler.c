/* Annealed Langevin dynamics over a noise ladder. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "learning-private.h"
#include "net-private.h"
#include "rng-private.h"
#include "scorematch/sampler.h"

enum { INIT_NORMAL, INIT_UNIFORM };

struct sm_sampler {
    sm_net *net;
    const sm_schedule *sched;
    size_t steps;
    double ratio;
    int noise, denoise;
    int init;
    double init_a, init_b; /* normal: std; uniform: lo, hi */
    sm_sampler_callback cb;
    void *ud;
    uint64_t nfe;
};

sm_status sm_sampler_new(sm_sampler **out, sm_net *net, const sm_schedule *sched)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_new: out is NULL");
    *out = NULL;
    if (!net || !sched)
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_new: net and sched are required");
    sm_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return sm__error(SM_ERR_NOMEM, "sm_sampler_new: out of memory");
    s->net = net;
    s->sched = sched;
    s->steps = 20;
    s->ratio = 0.2; /* NCSN's eps = 2e-5 at sigma_L = 0.01 */
    s->noise = 1;
    s->init = INIT_NORMAL;
    s->init_a = 1.0;
    *out = s;
    return SM_OK;
}

void sm_sampler_free(sm_sampler *s)
{
    free(s);
}

#define REQUIRE(s, fn)                                                         \
    do {                                                                       \
        if (!(s))                                                              \
            return sm__error(SM_ERR_INVALID_ARG, "%s: sampler is NULL", fn);  \
    } while (0)

sm_status sm_sampler_set_steps_per_scale(sm_sampler *s, size_t steps)
{
    REQUIRE(s, "sm_sampler_set_steps_per_scale");
    if (steps == 0 || steps > ((size_t)1 << 30))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_steps_per_scale: steps must be in [1, 2^30]");
    s->steps = steps;
    return SM_OK;
}

sm_status sm_sampler_set_step_ratio(sm_sampler *s, double ratio)
{
    REQUIRE(s, "sm_sampler_set_step_ratio");
    if (!isfinite(ratio) || !(ratio > 0.0))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_step_ratio: ratio must be finite and > 0 (got %g)",
                         ratio);
    s->ratio = ratio;
    return SM_OK;
}

sm_status sm_sampler_set_step_ncsn(sm_sampler *s, double eps)
{
    REQUIRE(s, "sm_sampler_set_step_ncsn");
    if (!isfinite(eps) || !(eps > 0.0))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_step_ncsn: eps must be finite and > 0 (got %g)", eps);
    double smin = sm_schedule_sigma(s->sched, sm_schedule_levels(s->sched) - 1);
    double ratio = eps / (smin * smin);
    if (!isfinite(ratio) || !(ratio > 0.0))
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_sampler_set_step_ncsn: eps %g gives the step ratio %g for sigma_L %g; "
                         "it must be finite and > 0", eps, ratio, smin);
    s->ratio = ratio;
    return SM_OK;
}

double sm_sampler_step_ratio(const sm_sampler *s)
{
    return s ? s->ratio : 0.0;
}

sm_status sm_sampler_set_noise(sm_sampler *s, int enabled)
{
    REQUIRE(s, "sm_sampler_set_noise");
    s->noise = enabled != 0;
    return SM_OK;
}

sm_status sm_sampler_set_init_normal(sm_sampler *s, double std)
{
    REQUIRE(s, "sm_sampler_set_init_normal");
    if (!(std > 0.0 && std <= FLT_MAX))
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_sampler_set_init_normal: std must be > 0 and finite in float (got %g)",
                         std);
    s->init = INIT_NORMAL;
    s->init_a = std;
    return SM_OK;
}

sm_status sm_sampler_set_init_uniform(sm_sampler *s, double lo, double hi)
{
    REQUIRE(s, "sm_sampler_set_init_uniform");
    /* The box is drawn in float: its ends must be distinct finite floats. */
    if (!(fabs(lo) <= FLT_MAX && fabs(hi) <= FLT_MAX && (float)hi > (float)lo))
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_sampler_set_init_uniform: need lo < hi, finite and distinct in float "
                         "(got %g, %g)", lo, hi);
    s->init = INIT_UNIFORM;
    s->init_a = lo;
    s->init_b = hi;
    return SM_OK;
}

sm_status sm_sampler_set_final_denoise(sm_sampler *s, int enabled)
{
    REQUIRE(s, "sm_sampler_set_final_denoise");
    s->denoise = enabled != 0;
    return SM_OK;
}

sm_status sm_sampler_set_callback(sm_sampler *s, sm_sampler_callback callback, void *user_data)
{
    REQUIRE(s, "sm_sampler_set_callback");
    s->cb = callback;
    s->ud = user_data;
    return SM_OK;
}

uint64_t sm_sampler_nfe(const sm_sampler *s)
{
    return s ? s->nfe : 0;
}

static sm_status check_run(sm_sampler *s, sm_rng *rng, const float *x, size_t n, size_t dim,
                           const char *fn)
{
    REQUIRE(s, fn);
    if (!rng || !x || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need an rng, a buffer and n >= 1", fn);
    if (dim != s->net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, s->net->dim);
    size_t total, bytes;
    if (sm__mul_size(n, dim, &total) || sm__mul_size(total, 3 * sizeof(float), &bytes))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim too large", fn);
    return SM_OK;
}

/* A failed network evaluation at level i (i = levels: the denoising step),
 * step t: a non-finite score (NaN or infinite parameters, or a walk that
 * left float range) is divergence; anything else keeps its status. */
static sm_status score_failed(const sm_sampler *s, sm_status st, size_t i, size_t levels,
                              float sigma, size_t t, const char *fn)
{
    if (st != SM_ERR_NONFINITE)
        return sm__error_wrap(st, fn);
    char detail[300];
    snprintf(detail, sizeof detail, "%s", sm_last_error());
    if (i == levels)
        return sm__error(SM_ERR_DIVERGED, "%s: the score became non-finite in the final denoising "
                         "step (%s)", fn, detail);
    return sm__error(SM_ERR_DIVERGED,
                     "%s: the score became non-finite at level %zu of %zu (sigma %g), step %zu of "
                     "%zu (%s); check the network's parameters, or lower the step ratio %g "
                     "(sm_sampler_set_step_ratio)",
                     fn, i + 1, levels, (double)sigma, t + 1, s->steps, detail, s->ratio);
}

/* The dynamics on x (n × dim, finite), in place. */
static sm_status langevin(sm_sampler *s, sm_rng *rng, float *x, size_t n, size_t dim,
                          const char *fn)
{
    const size_t total = n * dim;
    float *buf = sm__calloc(total, 3 * sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu points", fn, n);
    float *score = buf, *z = buf + total, *next = buf + 2 * total;
    float *cur = x;
    const size_t levels = sm_schedule_levels(s->sched);
    const float *sig = sm__schedule_sigmas(s->sched);
    sm_status st = SM_OK;
    s->nfe = 0;
    for (size_t i = 0; i < levels && st == SM_OK; i++) {
        const double alpha = s->ratio * (double)sig[i] * (double)sig[i];
        const float half_a = (float)(0.5 * alpha), root_a = (float)sqrt(alpha);
        for (size_t t = 0; t < s->steps; t++) {
            if ((st = sm_net_forward_sigma(s->net, cur, sig[i], n, dim, score))) {
                st = score_failed(s, st, i, levels, sig[i], t, fn);
                break;
            }
            if (s->noise)
                sm__rng_fill_normal(rng, z, total, 0.0f, 1.0f);
            for (size_t k = 0; k < total; k++)
                next[k] = cur[k] + half_a * score[k] + (s->noise ? root_a * z[k] : 0.0f);
            size_t bad = sm__first_nonfinite(next, total);
            if (bad < total) {
                st = sm__error(SM_ERR_DIVERGED,
                               "%s: sample %zu became non-finite at level %zu of %zu (sigma %g), step %zu of %zu; "
                               "the step ratio %g is too large for this network: lower it (sm_sampler_set_step_ratio)",
                               fn, bad / dim, i + 1, levels, (double)sig[i], t + 1, s->steps, s->ratio);
                break;
            }
            float *tmp = cur; /* the caller's buffer and `next` alternate */
            cur = next;
            next = tmp;
        }
        s->nfe += s->steps;
        if (st == SM_OK && s->cb && s->cb(i, levels, sig[i], cur, n, dim, s->ud))
            st = sm__error(SM_ERR_CANCELLED, "%s: stopped by the callback after level %zu", fn, i + 1);
    }
    if (st == SM_OK && s->denoise) {
        const float smin = sig[levels - 1];
        st = sm_net_forward_sigma(s->net, cur, smin, n, dim, score);
        if (st)
            st = score_failed(s, st, levels, levels, smin, 0, fn);
        if (st == SM_OK) {
            const float v = smin * smin;
            for (size_t k = 0; k < total; k++)
                next[k] = cur[k] + v * score[k];
            if (sm__first_nonfinite(next, total) < total)
                st = sm__error(SM_ERR_DIVERGED, "%s: the final denoising step gave non-finite points", fn);
            else
                cur = next;
            s->nfe += 1;
            if (st == SM_OK && s->cb && s->cb(levels, levels, smin, cur, n, dim, s->ud))
                st = sm__error(SM_ERR_CANCELLED, "%s: stopped by the callback after denoising", fn);
        }
    }
    if (cur != x)
        memcpy(x, cur, total * sizeof(float));
    free(buf);
    return st;
}

sm_status sm_sampler_run(sm_sampler *s, sm_rng *rng, float *out, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run";
    sm_status st = check_run(s, rng, out, n, dim, fn);
    if (st)
        return st;
    if (s->init == INIT_NORMAL)
        sm__rng_fill_normal(rng, out, n * dim, 0.0f, (float)s->init_a);
    else if ((st = sm_rng_fill_uniform(rng, out, n * dim, (float)s->init_a, (float)s->init_b)))
        return sm__error_wrap(st, fn);
    size_t bad = sm__first_nonfinite(out, n * dim);
    if (bad < n * dim)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: the initial N(0, %g^2) draw of sample %zu overflows float; lower "
                         "the std (sm_sampler_set_init_normal)",
                         fn, s->init_a, bad / dim);
    return langevin(s, rng, out, n, dim, fn);
}

sm_status sm_sampler_run_from(sm_sampler *s, sm_rng *rng, float *x, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run_from";
    sm_status st = check_run(s, rng, x, n, dim, fn);
    if (st)
        return st;
    size_t bad = sm__first_nonfinite(x, n * dim);
    if (bad < n * dim)
        return sm__error(SM_ERR_NONFINITE, "%s: x[%zu][%zu] is not finite", fn, bad / dim, bad % dim);
    return langevin(s, rng, x, n, dim, fn);
}
