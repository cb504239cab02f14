/* Samplers that walk a σ grid with a score model: annealed Langevin,
 * reverse-diffusion predictor with a Langevin corrector, the
 * probability-flow ODE (Euler, Heun), EDM's deterministic and stochastic
 * samplers and DPM-Solver++(2M). Each kind is one entry of the table
 * `kinds` (name, run function, default start, noise per point, NFE rule,
 * hint on divergence); the σ grid is the schedule, the parametrization is
 * the score model's (scoremodel.c), the noise process is process.c's.
 * Every kind evaluates the model through eval_at(), which is where the
 * contexts and classifier-free guidance apply. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "learning-private.h"
#include "process-private.h"
#include "rng-private.h"
#include "scoremodel-private.h"
#include "scorematch/sampler.h"

enum { INIT_AUTO, INIT_NORMAL, INIT_UNIFORM };
enum { SM__MAX_IMPUTE_DRAWS = 10000 };

struct sm_sampler {
    sm_net *net;
    const sm_schedule *sched;
    sm_sampler_kind kind;
    size_t steps;
    size_t corrector_steps;
    double snr;
    double ratio;
    int noise, denoise;
    int init;
    double init_a, init_b; /* normal: std; uniform: lo, hi */
    double churn, churn_tmin, churn_tmax, churn_noise; /* EDM stochastic */
    sm_sampler_callback cb;
    void *ud;
    uint64_t nfe;
    int running; /* inside a run: its callback must not change or rerun it */
    float *ctx;          /* ctx_rows × the net's context_dim, or NULL */
    size_t ctx_rows;     /* 1 (broadcast) or the run's n */
    double guide_w, guide_lo, guide_hi; /* classifier-free guidance */
    size_t resample; /* imputation: jumps back per level (RePaint) */
    size_t draws;    /* imputation: draws averaged per point */
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
    s->kind = SM_SAMPLER_LANGEVIN;
    s->corrector_steps = 1;
    s->snr = 0.16; /* Song et al. (2021) for VE models */
    s->init = INIT_AUTO;
    s->churn = 40.0; /* EDM's ImageNet-64 settings (Karras et al. 2022, Table 5) */
    s->churn_tmin = 0.05;
    s->churn_tmax = 50.0;
    s->churn_noise = 1.003;
    s->guide_hi = INFINITY;
    s->draws = 1;
    *out = s;
    return SM_OK;
}

void sm_sampler_free(sm_sampler *s)
{
    if (s)
        free(s->ctx);
    free(s);
}

/* A sampler that can be changed or run: not NULL, and not inside a run
 * (a call from the run's own callback would change the settings the run is
 * using and restart its NFE count). */
static sm_status check_idle(const sm_sampler *s, const char *fn)
{
    if (!s)
        return sm__error(SM_ERR_INVALID_ARG, "%s: sampler is NULL", fn);
    if (s->running)
        return sm__error(SM_ERR_STATE,
                         "%s: the sampler is running (called from its own callback); change "
                         "or run it after sm_sampler_run() returns", fn);
    return SM_OK;
}

#define REQUIRE_IDLE(s)                                                        \
    do {                                                                       \
        sm_status idle_st_ = check_idle((s), __func__);                        \
        if (idle_st_)                                                          \
            return idle_st_;                                                   \
    } while (0)

sm_status sm_sampler_set_corrector(sm_sampler *s, size_t steps, double snr)
{
    REQUIRE_IDLE(s);
    if (steps > ((size_t)1 << 30))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_corrector: steps must be in [0, 2^30]");
    if (!isfinite(snr) || !(snr > 0.0))
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_sampler_set_corrector: snr must be finite and > 0 (got %g)", snr);
    s->corrector_steps = steps;
    s->snr = snr;
    return SM_OK;
}

sm_status sm_sampler_set_steps_per_scale(sm_sampler *s, size_t steps)
{
    REQUIRE_IDLE(s);
    if (steps == 0 || steps > ((size_t)1 << 30))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_steps_per_scale: steps must be in [1, 2^30]");
    s->steps = steps;
    return SM_OK;
}

sm_status sm_sampler_set_step_ratio(sm_sampler *s, double ratio)
{
    REQUIRE_IDLE(s);
    if (!isfinite(ratio) || !(ratio > 0.0))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_step_ratio: ratio must be finite and > 0 (got %g)",
                         ratio);
    s->ratio = ratio;
    return SM_OK;
}

sm_status sm_sampler_set_step_ncsn(sm_sampler *s, double eps)
{
    REQUIRE_IDLE(s);
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
    REQUIRE_IDLE(s);
    s->noise = enabled != 0;
    return SM_OK;
}

sm_status sm_sampler_set_init_normal(sm_sampler *s, double std)
{
    REQUIRE_IDLE(s);
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
    REQUIRE_IDLE(s);
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
    REQUIRE_IDLE(s);
    s->denoise = enabled != 0;
    return SM_OK;
}

sm_status sm_sampler_set_churn(sm_sampler *s, double churn, double tmin, double tmax,
                               double noise)
{
    REQUIRE_IDLE(s);
    if (!(churn >= 0.0 && churn <= 1e6) || !(tmin >= 0.0) || !(tmax >= tmin) ||
        !(tmax <= 1e30) || !(noise >= 0.0 && noise <= 10.0))
        return sm__error(SM_ERR_INVALID_ARG,
                         "sm_sampler_set_churn: need 0 <= churn <= 1e6, 0 <= tmin <= tmax "
                         "(finite), 0 <= noise <= 10 (got %g, %g, %g, %g)",
                         churn, tmin, tmax, noise);
    s->churn = churn;
    s->churn_tmin = tmin;
    s->churn_tmax = tmax;
    s->churn_noise = noise;
    return SM_OK;
}

sm_status sm_sampler_set_callback(sm_sampler *s, sm_sampler_callback callback, void *user_data)
{
    REQUIRE_IDLE(s);
    s->cb = callback;
    s->ud = user_data;
    return SM_OK;
}

uint64_t sm_sampler_nfe(const sm_sampler *s)
{
    return s ? s->nfe : 0;
}

sm_status sm_sampler_set_context(sm_sampler *s, const float *ctx, size_t rows,
                                 size_t context_dim)
{
    const char *fn = "sm_sampler_set_context";
    REQUIRE_IDLE(s);
    if (!ctx) {
        free(s->ctx);
        s->ctx = NULL;
        s->ctx_rows = 0;
        return SM_OK;
    }
    if (rows == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rows must be >= 1", fn);
    sm_status st = sm__score_check_context(s->net, ctx, rows, context_dim, fn);
    if (st)
        return st;
    float *copy = sm__calloc(rows, context_dim * sizeof(float));
    if (!copy)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu contexts", fn, rows);
    memcpy(copy, ctx, rows * context_dim * sizeof(float));
    free(s->ctx);
    s->ctx = copy;
    s->ctx_rows = rows;
    return SM_OK;
}

sm_status sm_sampler_set_guidance(sm_sampler *s, double w, double sigma_lo, double sigma_hi)
{
    const char *fn = "sm_sampler_set_guidance";
    REQUIRE_IDLE(s);
    if (!(w >= 0.0 && w <= 1e6))
        return sm__error(SM_ERR_INVALID_ARG, "%s: w must be finite and in [0, 1e6] (got %g)", fn,
                         w);
    if (!(sigma_lo >= 0.0 && sigma_lo <= 1e30) || !(sigma_hi >= sigma_lo))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: need 0 <= sigma_lo <= sigma_hi, sigma_lo finite (got %g, %g)", fn,
                         sigma_lo, sigma_hi);
    s->guide_w = w;
    s->guide_lo = sigma_lo;
    s->guide_hi = sigma_hi;
    return SM_OK;
}

sm_status sm_sampler_set_resample(sm_sampler *s, size_t r)
{
    REQUIRE_IDLE(s);
    if (r > 1000)
        return sm__error(SM_ERR_INVALID_ARG, "%s: r must be in [0, 1000] (got %zu)", __func__, r);
    s->resample = r;
    return SM_OK;
}

size_t sm_sampler_resample(const sm_sampler *s)
{
    return s ? s->resample : 0;
}

sm_status sm_sampler_set_impute_draws(sm_sampler *s, size_t k)
{
    REQUIRE_IDLE(s);
    if (k < 1 || k > SM__MAX_IMPUTE_DRAWS)
        return sm__error(SM_ERR_INVALID_ARG, "%s: k must be in [1, %d] (got %zu)", __func__,
                         SM__MAX_IMPUTE_DRAWS, k);
    s->draws = k;
    return SM_OK;
}

size_t sm_sampler_impute_draws(const sm_sampler *s)
{
    return s ? s->draws : 0;
}

typedef struct run_ctx run_ctx;

/* One sampling algorithm. */
typedef struct {
    const char *name;
    sm_status (*run)(run_ctx *c);
    /* Evaluations of a complete run over L >= 1 levels, without the final
     * denoising step. */
    uint64_t (*nfe)(const sm_sampler *s, uint64_t levels);
    int start_at_sigma_max; /* default start N(0, σ₁²I); else N(0, I) */
    int per_point;          /* noise from one stream per point (see below) */
    int ends_at_zero;       /* steps to σ = 0 itself (no final denoising) */
    const char *hint;       /* what to change when a run diverges */
    const char *needs;      /* why a run may make no step at all; NULL: it never does */
} kind_info;

/* One run: the state x (the caller's buffer, always the last finite
 * state) and n × dim scratch arrays. */
struct run_ctx {
    sm_sampler *s;
    const kind_info *kind;
    sm_rng *rng;
    uint64_t key; /* per-point kinds: the run's noise key */
    size_t n, dim, total, levels;
    const float *sig;
    float *x, *score, *z, *next, *aux, *prev;
    const float *ctx; /* n contexts, or NULL: the null context */
    float *uncond;    /* with guidance: the unconditional head, else NULL */
    const char *fn;
    /* Imputation (obs == NULL: a plain run). */
    const float *obs;          /* the observed values (n × dim, 0 where missing) */
    const unsigned char *mask; /* 1 = observed */
    float *imp_z;              /* n × dim noise for replacements and jumps */
    uint64_t imp_draws;        /* per-point kinds: the next noise slot */
    size_t rep;                /* how often the current level's step was repeated */
};

/* A failed network evaluation at level i (i = levels: the denoising step),
 * step t: a non-finite score (NaN or infinite parameters, or a walk that
 * left float range) is divergence; anything else keeps its status. */
static sm_status eval_failed(const run_ctx *c, sm_status st, size_t i, float sigma, size_t t)
{
    if (st != SM_ERR_NONFINITE)
        return st;
    char detail[300];
    snprintf(detail, sizeof detail, "%s", sm_last_error());
    if (i == c->levels)
        return sm__error(SM_ERR_DIVERGED, "%s: the score became non-finite in the final denoising "
                         "step (%s)", c->fn, detail);
    return sm__error(SM_ERR_DIVERGED,
                     "%s: the score became non-finite at level %zu of %zu (sigma %g), step %zu "
                     "(%s); check the network's parameters, or: %s",
                     c->fn, i + 1, c->levels, (double)sigma, t + 1, detail, c->kind->hint);
}

/* out = the score model's head at (x, σ) for all points with their
 * contexts: one network evaluation per sample. With guidance at this σ,
 * out = (1 + w)·h(x, σ, c) − w·h(x, σ, ∅), two evaluations: the head is
 * affine in D with the same x for score and denoiser alike, so one
 * combination serves both. */
static void imputation_noise(run_ctx *c, float std);

/* Imputation by replacement (Song et al. 2021): the observed coordinates
 * of the state are the observed values noised to the σ at which the model
 * is evaluated, so that the missing ones are denoised conditionally on
 * them. Every evaluation goes through here, so every kind gets it. */
static void replace_observed(run_ctx *c, float *x, float sigma)
{
    imputation_noise(c, sigma);
    for (size_t k = 0; k < c->total; k++)
        if (c->mask[k])
            x[k] = c->obs[k] + c->imp_z[k];
}

static sm_status eval_at(run_ctx *c, sm__head head, float *x, float sigma, float *out,
                         size_t i, size_t t)
{
    sm_sampler *s = c->s;
    if (c->obs)
        replace_observed(c, x, sigma);
    const sm__cond cond = {c->ctx, NULL};
    sm_status st = sm__score_eval(s->net, x, NULL, sigma, &cond, c->n, head, out, c->fn);
    if (st)
        return eval_failed(c, st, i, sigma, t);
    s->nfe++;
    if (!c->uncond || !(sigma >= s->guide_lo && sigma <= s->guide_hi))
        return SM_OK;
    if ((st = sm__score_eval(s->net, x, NULL, sigma, NULL, c->n, head, c->uncond, c->fn)))
        return eval_failed(c, st, i, sigma, t);
    s->nfe++;
    const float a = (float)(1.0 + s->guide_w), b = (float)s->guide_w;
    for (size_t k = 0; k < c->total; k++)
        out[k] = a * out[k] - b * c->uncond[k];
    return SM_OK;
}

static sm_status score_at(run_ctx *c, float *x, float sigma, float *out, size_t i, size_t t)
{
    return eval_at(c, SM__HEAD_SCORE, x, sigma, out, i, t);
}

static sm_status denoise_at(run_ctx *c, float *x, float sigma, float *out, size_t i,
                            size_t t)
{
    return eval_at(c, SM__HEAD_DENOISER, x, sigma, out, i, t);
}

/* Accepts c->next as the new state if it is finite. */
static sm_status commit(run_ctx *c, size_t i, size_t t)
{
    size_t bad = sm__first_nonfinite(c->next, c->total);
    if (bad < c->total) {
        if (i == c->levels)
            return sm__error(SM_ERR_DIVERGED, "%s: the final denoising step gave non-finite points",
                             c->fn);
        return sm__error(SM_ERR_DIVERGED,
                         "%s: sample %zu became non-finite at level %zu of %zu (sigma %g), step %zu; %s",
                         c->fn, bad / c->dim, i + 1, c->levels, (double)c->sig[i], t + 1,
                         c->kind->hint);
    }
    memcpy(c->x, c->next, c->total * sizeof(float));
    return SM_OK;
}

static sm_status level_done(run_ctx *c, size_t i, float sigma)
{
    if (!c->s->cb || !c->s->cb(i, c->levels, sigma, c->x, c->n, c->dim, c->s->ud))
        return SM_OK;
    if (i == c->levels)
        return sm__error(SM_ERR_CANCELLED, "%s: stopped by the callback after denoising", c->fn);
    return sm__error(SM_ERR_CANCELLED, "%s: stopped by the callback after level %zu", c->fn, i + 1);
}

static void draw_noise(run_ctx *c)
{
    if (c->s->noise)
        sm__rng_fill_normal(c->rng, c->z, c->total, 0.0f, 1.0f);
    else
        memset(c->z, 0, c->total * sizeof(float));
}

/* ---- noise that depends only on the run's key and the point's index ----
 * Kinds marked per_point draw each point's noise from its own stream,
 * seeded from (key, point, slot), so that the first k points of a run do
 * not depend on how many points are drawn with them. */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* out (n × dim) = std·N(0, I) from the streams (key, point, slot). */
static void per_point_normals(uint64_t key, uint64_t slot, size_t n, size_t dim, float std,
                              float *out)
{
    sm_rng r;
    for (size_t p = 0; p < n; p++) {
        sm_rng_reseed(&r, mix64(key ^ mix64((uint64_t)p * 0x100000001B3ull + mix64(slot))));
        sm__rng_fill_normal(&r, out + p * dim, dim, 0.0f, std);
    }
}

/* c->imp_z = std·N(0, I): from each point's stream (in a slot range of
 * its own) for the per-point kinds, from the run's generator otherwise. */
static void imputation_noise(run_ctx *c, float std)
{
    if (c->kind->per_point)
        per_point_normals(c->key, ((uint64_t)1 << 63) | c->imp_draws++, c->n, c->dim, std,
                          c->imp_z);
    else
        sm__rng_fill_normal(c->rng, c->imp_z, c->total, 0.0f, std);
}

/* RePaint's resampling (Lugmayr et al. 2022) after a committed step of
 * level i from σ_from to σ_to: while the level has jumps left, the state
 * goes back up to σ_from with noise of variance σ_from² − σ_to², and the
 * caller repeats the step (returns 1). Only imputation runs jump. */
static int jump_back(run_ctx *c, float s_from, float s_to)
{
    if (!c->obs || c->rep >= c->s->resample || !(s_from > s_to)) {
        c->rep = 0;
        return 0;
    }
    c->rep++;
    imputation_noise(c, (float)sqrt((double)s_from * s_from - (double)s_to * s_to));
    for (size_t k = 0; k < c->total; k++)
        c->x[k] += c->imp_z[k];
    return 1;
}

/* ---- the kinds ----------------------------------------------------------- */

/* Annealed Langevin: T steps x ← x + ½α·s + √α·z per level, α = r·σ². */
static sm_status run_langevin(run_ctx *c)
{
    const sm_sampler *s = c->s;
    sm_status st = SM_OK;
    for (size_t i = 0; i < c->levels && !st; i++) {
        const double alpha = s->ratio * (double)c->sig[i] * (double)c->sig[i];
        const float half_a = (float)(0.5 * alpha), root_a = (float)sqrt(alpha);
        /* Level i walks from the state at σ_{i−1} to one at σ_i. */
        const float from = c->sig[i ? i - 1 : 0];
        do {
            for (size_t t = 0; t < s->steps && !st; t++) {
                if ((st = score_at(c, c->x, c->sig[i], c->score, i, t)))
                    break;
                draw_noise(c);
                for (size_t k = 0; k < c->total; k++)
                    c->next[k] = c->x[k] + half_a * c->score[k] + root_a * c->z[k];
                st = commit(c, i, t);
            }
        } while (!st && jump_back(c, from, c->sig[i]));
        if (!st)
            st = level_done(c, i, c->sig[i]);
    }
    return st;
}

/* Mean over the points of the per-point Euclidean norm of v (n × dim). */
static double mean_norm(const float *v, size_t n, size_t dim)
{
    double sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        double q = 0.0;
        for (size_t j = 0; j < dim; j++)
            q += (double)v[r * dim + j] * v[r * dim + j];
        sum += sqrt(q);
    }
    return sum / (double)n;
}

/* Predictor-corrector: at each level C corrector steps of Langevin
 * dynamics whose step ε = 2·(snr·‖z‖/‖s‖)² (batch means of the norms) makes
 * the noise-to-signal ratio of the update the target, then one
 * reverse-diffusion step of the VE SDE down to the next level:
 * x ← x + (σ_i² − σ_{i+1}²)·s(x, σ_i) + √(σ_i² − σ_{i+1}²)·z. */
static sm_status run_pc(run_ctx *c)
{
    const sm_sampler *s = c->s;
    sm_status st = SM_OK;
    for (size_t i = 0; i < c->levels && !st; i++) {
        const float sg = c->sig[i];
        /* The last level only corrects: it has no step down to jump back from. */
        const float below = i + 1 < c->levels ? c->sig[i + 1] : sg;
        do {
            for (size_t t = 0; t < s->corrector_steps && !st; t++) {
                if ((st = score_at(c, c->x, sg, c->score, i, t)))
                    break;
                draw_noise(c);
                double gnorm = mean_norm(c->score, c->n, c->dim);
                double znorm = s->noise ? mean_norm(c->z, c->n, c->dim) : sqrt((double)c->dim);
                double q = gnorm > 0.0 ? s->snr * znorm / gnorm : 0.0; /* zero score: no move */
                double eps = 2.0 * q * q;
                const float fe = (float)eps, fr = (float)sqrt(2.0 * eps);
                for (size_t k = 0; k < c->total; k++)
                    c->next[k] = c->x[k] + fe * c->score[k] + fr * c->z[k];
                st = commit(c, i, t);
            }
            if (!st && i + 1 < c->levels) {
                const size_t t = s->corrector_steps;
                if ((st = score_at(c, c->x, sg, c->score, i, t)))
                    break;
                draw_noise(c);
                const double var = sm__ve_step_variance(sg, c->sig[i + 1]);
                const float fv = (float)var, fr = (float)sqrt(var);
                for (size_t k = 0; k < c->total; k++)
                    c->next[k] = c->x[k] + fv * c->score[k] + fr * c->z[k];
                st = commit(c, i, t);
            }
        } while (!st && jump_back(c, sg, below));
        if (!st)
            st = level_done(c, i, sg);
    }
    return st;
}

/* σ of step i of a walk that may end at 0: the grid's levels, then 0. */
static float walk_sigma(const run_ctx *c, size_t i)
{
    return i < c->levels ? c->sig[i] : 0.0f;
}

/* One step of the probability-flow ODE dx/dσ = (x − D(x, σ))/σ from
 * (x_from, σ_from) to σ_to into c->next: Euler, or Heun's (the mean of the
 * slopes at both ends; Euler when σ_to = 0, where the slope is undefined).
 * The slope at the start is in `slope` (already evaluated). */
static sm_status ode_step(run_ctx *c, const float *x_from, float s_from, float s_to,
                          const float *slope, int heun, size_t i)
{
    const float h = s_to - s_from;
    sm__euler_step(x_from, h, slope, c->total, c->next);
    if (!heun || s_to == 0.0f)
        return SM_OK;
    sm_status st = denoise_at(c, c->next, s_to, c->aux, i, 1);
    if (st)
        return st;
    sm__ve_drift_from_denoised(c->next, c->aux, s_to, c->total, c->aux);
    sm__heun_step(x_from, h, slope, c->aux, c->total, c->next);
    return SM_OK;
}

/* The probability-flow ODE over the grid's levels (σ₁ … σ_L), Euler or
 * Heun; with to_zero a last Euler step to σ = 0 (EDM's Algorithm 1). With
 * churn (EDM's Algorithm 2), before each step whose σ_i lies in
 * [S_tmin, S_tmax] the state is lifted to σ̂ = σ_i(1 + γ),
 * γ = min(S_churn/N, √2 − 1), by adding noise of variance σ̂² − σ_i²
 * (times S_noise), and the step starts from σ̂. */
static sm_status run_flow(run_ctx *c, int heun, int to_zero, int churn)
{
    const sm_sampler *s = c->s;
    const size_t steps = to_zero ? c->levels : c->levels - 1;
    sm_status st = SM_OK;
    for (size_t i = 0; i < steps && !st; i++) {
        const float s1 = walk_sigma(c, i + 1);
        do {
            float s0 = c->sig[i];
            if (churn && s->churn > 0.0 && s0 >= s->churn_tmin && s0 <= s->churn_tmax) {
                const double gamma = fmin(s->churn / (double)steps, sqrt(2.0) - 1.0);
                const double hat = (double)s0 * (1.0 + gamma);
                const float lift = (float)(sqrt(hat * hat - (double)s0 * s0) * s->churn_noise);
                /* A repeated step (resampling) churns with fresh noise. */
                uint64_t slot = i + 1;
                if (c->rep)
                    slot = ((uint64_t)1 << 62) | ((uint64_t)c->rep << 32) | (i + 1);
                per_point_normals(c->key, slot, c->n, c->dim, 1.0f, c->z);
                for (size_t k = 0; k < c->total; k++)
                    c->x[k] += lift * c->z[k];
                s0 = (float)hat;
            }
            if ((st = denoise_at(c, c->x, s0, c->score, i, 0)))
                break;
            sm__ve_drift_from_denoised(c->x, c->score, s0, c->total, c->score);
            if ((st = ode_step(c, c->x, s0, s1, c->score, heun, i)) || (st = commit(c, i, 0)))
                break;
        } while (jump_back(c, c->sig[i], s1));
        if (!st)
            st = level_done(c, i, c->sig[i]);
    }
    if (!st && !to_zero)
        st = level_done(c, c->levels - 1, c->sig[c->levels - 1]);
    return st;
}

static sm_status run_ode_euler(run_ctx *c) { return run_flow(c, 0, 0, 0); }
static sm_status run_ode_heun(run_ctx *c) { return run_flow(c, 1, 0, 0); }
static sm_status run_edm_heun(run_ctx *c) { return run_flow(c, 1, 1, 0); }
static sm_status run_edm_stochastic(run_ctx *c) { return run_flow(c, 1, 1, 1); }

/* DPM-Solver++(2M) (Lu et al. 2022) in σ: with t = −ln σ, h = t_{i+1} − t_i
 * and D_i = D(x, σ_i), x ← (σ_{i+1}/σ_i)·x − (e^{−h} − 1)·D̄, where D̄ = D_i
 * at the first step and at the last (to σ = 0, where the update is x ← D_i)
 * and otherwise the second-order combination
 * D̄ = (1 + 1/(2r))·D_i − (1/(2r))·D_{i−1}, r = h_{i−1}/h_i. */
static sm_status run_dpmpp_2m(run_ctx *c)
{
    sm_status st = SM_OK;
    double h_prev = 0.0;
    for (size_t i = 0; i < c->levels && !st; i++) {
        const float s0 = c->sig[i], s1 = walk_sigma(c, i + 1);
        const double h = s1 == 0.0f ? 0.0 : log((double)s0) - log((double)s1);
        /* A repeated step (resampling) starts from a re-noised state
         * that D_{i−1} does not belong to: it is a first-order step. */
        do {
            if ((st = denoise_at(c, c->x, s0, c->score, i, 0)))
                break;
            if (s1 == 0.0f) {
                memcpy(c->next, c->score, c->total * sizeof(float));
            } else {
                const float ratio = (float)((double)s1 / (double)s0), em1 = (float)expm1(-h);
                if (i == 0 || c->rep) {
                    for (size_t k = 0; k < c->total; k++)
                        c->next[k] = ratio * c->x[k] - em1 * c->score[k];
                } else {
                    const double r = h_prev / h;
                    const float a = (float)(1.0 + 1.0 / (2.0 * r)), b = (float)(1.0 / (2.0 * r));
                    for (size_t k = 0; k < c->total; k++)
                        c->next[k] = ratio * c->x[k] - em1 * (a * c->score[k] - b * c->prev[k]);
                }
            }
        } while (!(st = commit(c, i, 0)) && jump_back(c, s0, s1));
        if (st)
            break;
        h_prev = h;
        memcpy(c->prev, c->score, c->total * sizeof(float));
        st = level_done(c, i, s0);
    }
    return st;
}

/* Network evaluations per sample of a complete run over L levels, the
 * final denoising step aside (sampler.h lists them). */
static uint64_t nfe_langevin(const sm_sampler *s, uint64_t L) { return L * s->steps; }
static uint64_t nfe_pc(const sm_sampler *s, uint64_t L) { return L * s->corrector_steps + L - 1; }
static uint64_t nfe_ode_euler(const sm_sampler *s, uint64_t L) { (void)s; return L - 1; }
static uint64_t nfe_ode_heun(const sm_sampler *s, uint64_t L) { (void)s; return 2 * (L - 1); }
static uint64_t nfe_edm(const sm_sampler *s, uint64_t L) { (void)s; return 2 * L - 1; }
static uint64_t nfe_dpmpp_2m(const sm_sampler *s, uint64_t L) { (void)s; return L; }

static const char HINT_FINER[] = "use a finer grid (more levels in the sampler's schedule)";
static const char NEEDS_STEP[] = "steps between neighbouring levels and needs at least 2 of them";

/* Indexed by sm_sampler_kind. */
static const kind_info kinds[] = {
    [SM_SAMPLER_LANGEVIN] = {"langevin", run_langevin, nfe_langevin, 0, 0, 0,
                             "lower the step ratio (sm_sampler_set_step_ratio)", NULL},
    [SM_SAMPLER_PC] = {"pc", run_pc, nfe_pc, 1, 0, 0,
                       "lower the corrector's snr (sm_sampler_set_corrector) or use a finer grid",
                       "without corrector steps only predicts between neighbouring levels and "
                       "needs at least 2 of them, or corrector steps (sm_sampler_set_corrector())"},
    [SM_SAMPLER_ODE_EULER] = {"ode-euler", run_ode_euler, nfe_ode_euler, 1, 0, 0, HINT_FINER,
                              NEEDS_STEP},
    [SM_SAMPLER_ODE_HEUN] = {"ode-heun", run_ode_heun, nfe_ode_heun, 1, 0, 0, HINT_FINER,
                             NEEDS_STEP},
    [SM_SAMPLER_EDM_HEUN] = {"edm-heun", run_edm_heun, nfe_edm, 1, 1, 1, HINT_FINER, NULL},
    [SM_SAMPLER_EDM_STOCHASTIC] = {"edm-stochastic", run_edm_stochastic, nfe_edm, 1, 1, 1,
                                   "lower the churn (sm_sampler_set_churn) or use a finer grid",
                                   NULL},
    [SM_SAMPLER_DPMPP_2M] = {"dpmpp-2m", run_dpmpp_2m, nfe_dpmpp_2m, 1, 1, 1, HINT_FINER, NULL},
};
#define NUM_KINDS (sizeof kinds / sizeof kinds[0])

static const kind_info *kind_of(sm_sampler_kind kind)
{
    return (unsigned)kind < NUM_KINDS ? &kinds[kind] : NULL;
}

sm_status sm_sampler_set_kind(sm_sampler *s, sm_sampler_kind kind)
{
    REQUIRE_IDLE(s);
    if (!kind_of(kind))
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_set_kind: unknown kind %d", (int)kind);
    s->kind = kind;
    return SM_OK;
}

sm_sampler_kind sm_sampler_get_kind(const sm_sampler *s)
{
    return s ? s->kind : SM_SAMPLER_LANGEVIN;
}

const char *sm_sampler_kind_name(sm_sampler_kind kind)
{
    const kind_info *k = kind_of(kind);
    return k ? k->name : "unknown";
}

sm_status sm_sampler_kind_from_name(const char *name, sm_sampler_kind *kind)
{
    if (!name || !kind)
        return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_kind_from_name: NULL argument");
    for (size_t k = 0; k < NUM_KINDS; k++)
        if (!strcmp(name, kinds[k].name)) {
            *kind = (sm_sampler_kind)k;
            return SM_OK;
        }
    return sm__error(SM_ERR_INVALID_ARG, "sm_sampler_kind_from_name: unknown sampler \"%.64s\"",
                     name);
}

static sm_status check_run(sm_sampler *s, sm_rng *rng, const float *x, size_t n, size_t dim,
                           const char *fn)
{
    sm_status st = check_idle(s, fn);
    if (st)
        return st;
    if (!rng || !x || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need an rng, a buffer and n >= 1", fn);
    if (dim != sm_net_dim(s->net))
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, sm_net_dim(s->net));
    size_t total, bytes;
    if (sm__mul_size(n, dim, &total) || sm__mul_size(total, 5 * sizeof(float), &bytes))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim too large", fn);
    if (sm_net_parametrization(s->net) == SM_PARAM_EDM && !(sm_net_sigma_data(s->net) > 0.0))
        return sm__error(SM_ERR_STATE,
                         "%s: the network's sigma_data is not known: train it with "
                         "sm_trainer_fit() or set it (sm_net_set_sigma_data())", fn);
    if (s->ctx && s->ctx_rows != 1 && s->ctx_rows != n)
        return sm__error(SM_ERR_SHAPE, "%s: %zu context rows (sm_sampler_set_context) for %zu "
                         "samples: give 1 or n", fn, s->ctx_rows, n);
    if (s->guide_w > 0.0 && !s->ctx)
        return sm__error(SM_ERR_STATE, "%s: guidance needs a context (sm_sampler_set_context)",
                         fn);
    const kind_info *kind = kind_of(s->kind);
    const size_t levels = sm_schedule_levels(s->sched);
    if (kind->nfe(s, levels) == 0 && !(s->denoise && !kind->ends_at_zero))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: %s %s; the schedule has %zu level%s, so the run would return its "
                         "start unchanged (use more levels, or add the final denoising step "
                         "with sm_sampler_set_final_denoise())",
                         fn, kind->name, kind->needs ? kind->needs : "makes no step", levels,
                         levels == 1 ? "" : "s");
    return SM_OK;
}

/* What an imputation run adds to a plain one (see run_ctx). */
typedef struct {
    const float *obs;
    const unsigned char *mask;
    float *z;
} imputation;

/* The run on x (n × dim, finite), in place; imp: an imputation run. */
static sm_status sample(sm_sampler *s, sm_rng *rng, uint64_t key, float *x, size_t n,
                        size_t dim, const imputation *imp, const char *fn)
{
    const size_t total = n * dim, cdim = sm_net_context_dim(s->net);
    const kind_info *kind = kind_of(s->kind);
    const int guided = s->ctx && s->guide_w > 0.0;
    const int broadcast = s->ctx && s->ctx_rows == 1 && n > 1;
    /* Five state arrays, the unconditional head with guidance, and one
     * context per point when one context is broadcast. */
    size_t extra = 0, floats = 0;
    if ((broadcast && sm__mul_size(n, cdim, &extra)) ||
        sm__mul_size(total, guided ? 6 : 5, &floats) || floats + extra < floats)
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim or n*context_dim too large", fn);
    float *buf = sm__calloc(floats + extra, sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM,
                         "%s: out of memory for the work arrays of %zu points (%zu bytes)", fn,
                         n, (floats + extra) * sizeof(float));
    float *ctx = s->ctx;
    if (broadcast) {
        ctx = buf + total * (guided ? 6 : 5);
        for (size_t r = 0; r < n; r++)
            memcpy(ctx + r * cdim, s->ctx, cdim * sizeof(float));
    }
    run_ctx c = {
        .s = s, .kind = kind, .rng = rng, .key = key, .n = n, .dim = dim, .total = total,
        .levels = sm_schedule_levels(s->sched), .sig = sm__schedule_sigmas(s->sched),
        .x = x, .score = buf, .z = buf + total, .next = buf + 2 * total, .aux = buf + 3 * total,
        .prev = buf + 4 * total, .ctx = ctx, .uncond = guided ? buf + 5 * total : NULL,
        .fn = fn, .obs = imp ? imp->obs : NULL, .mask = imp ? imp->mask : NULL,
        .imp_z = imp ? imp->z : NULL,
    };
    s->nfe = 0;
    s->running = 1;
    sm_status st = kind->run(&c);
    if (!st && s->denoise && !kind->ends_at_zero) {
        /* Tweedie: E[x₀ | x_σ] = x + σ²·s(x, σ) at the last level. */
        const size_t last = c.levels - 1;
        const float smin = c.sig[last], v = smin * smin;
        st = score_at(&c, c.x, smin, c.score, c.levels, 0);
        if (!st) {
            for (size_t k = 0; k < total; k++)
                c.next[k] = c.x[k] + v * c.score[k];
            if (!(st = commit(&c, c.levels, 0)))
                st = level_done(&c, c.levels, smin);
        }
    }
    s->running = 0;
    free(buf);
    if (imp) /* the observed values themselves, whatever became of the run */
        for (size_t k = 0; k < total; k++)
            if (imp->mask[k])
                x[k] = imp->obs[k];
    return st;
}

/* Draws the start of a run into out and the per-point kinds' key. */
static sm_status draw_start(sm_sampler *s, sm_rng *rng, float *out, size_t n, size_t dim,
                            uint64_t *key_out, const char *fn)
{
    sm_status st;
    const kind_info *kind = kind_of(s->kind);
    double std = s->init_a;
    if (s->init == INIT_AUTO) /* N(0, I) for the lab; the VE prior N(0, σ₁²I) otherwise */
        std = kind->start_at_sigma_max ? sm__ve_prior_std(sm_schedule_sigma(s->sched, 0)) : 1.0;
    /* Per-point kinds take their key first, so that the start of point p
     * comes from its own stream too. */
    const uint64_t key = kind->per_point ? sm__rng_u64(rng) : 0;
    if (s->init != INIT_UNIFORM) {
        if (kind->per_point)
            per_point_normals(key, 0, n, dim, (float)std, out);
        else
            sm__rng_fill_normal(rng, out, n * dim, 0.0f, (float)std);
    } else if ((st = sm_rng_fill_uniform(rng, out, n * dim, (float)s->init_a, (float)s->init_b))) {
        return sm__error_wrap(st, fn);
    }
    size_t bad = sm__first_nonfinite(out, n * dim);
    if (bad < n * dim)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: the initial N(0, %g^2) draw of sample %zu overflows float; lower "
                         "the std (sm_sampler_set_init_normal)",
                         fn, std, bad / dim);
    *key_out = key;
    return SM_OK;
}

sm_status sm_sampler_run(sm_sampler *s, sm_rng *rng, float *out, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run";
    uint64_t key;
    sm_status st = check_run(s, rng, out, n, dim, fn);
    if (!st)
        st = draw_start(s, rng, out, n, dim, &key, fn);
    return st ? st : sample(s, rng, key, out, n, dim, NULL, fn);
}

sm_status sm_sampler_run_from(sm_sampler *s, sm_rng *rng, float *x, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run_from";
    sm_status st = check_run(s, rng, x, n, dim, fn);
    if (st)
        return st;
    if ((st = sm__check_points(x, n, dim, "x", fn)))
        return st;
    const uint64_t key = kind_of(s->kind)->per_point ? sm__rng_u64(rng) : 0;
    return sample(s, rng, key, x, n, dim, NULL, fn);
}

/* sm_sampler_impute() and sm_sampler_impute_spread() (spread may be NULL). */
static sm_status impute(sm_sampler *s, sm_rng *rng, float *x, float *spread,
                        const unsigned char *mask, size_t n, size_t dim, const char *fn)
{
    sm_status st = check_run(s, rng, x, n, dim, fn);
    if (st)
        return st;
    if (!mask)
        return sm__error(SM_ERR_INVALID_ARG, "%s: mask is NULL", fn);
    const size_t total = n * dim, draws = s->draws;
    for (size_t k = 0; k < total; k++) {
        if (mask[k] > 1)
            return sm__error(SM_ERR_INVALID_ARG,
                             "%s: mask[%zu][%zu] is %u; it must be 1 (observed) or 0 (missing)",
                             fn, k / dim, k % dim, (unsigned)mask[k]);
        if (mask[k] && !isfinite(x[k]))
            return sm__error(SM_ERR_NONFINITE, "%s: x[%zu][%zu] is observed and not finite",
                             fn, k / dim, k % dim);
    }
    /* The running mean and sum of squared deviations of the draws (with
     * more than one draw, or a spread asked for), the observed values, the
     * mask (the caller's buffers may alias each other or x) and the noise
     * of the replacements. */
    const int stats = draws > 1 || spread;
    size_t bytes;
    if (sm__mul_size(total, 2 * sizeof(float) + 1 + (stats ? 2 * sizeof(double) : 0), &bytes))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim too large", fn);
    double *acc = sm__calloc(bytes, 1);
    if (!acc)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu points", fn, n);
    double *mean = acc, *m2 = acc + total;
    float *obs = (float *)(acc + (stats ? 2 * total : 0));
    unsigned char *m = (unsigned char *)(obs + 2 * total);
    memcpy(m, mask, total);
    for (size_t k = 0; k < total; k++)
        obs[k] = m[k] ? x[k] : 0.0f;
    const imputation imp = {obs, m, obs + total};
    uint64_t nfe = 0;
    int ran = 0;
    for (size_t d = 0; d < draws && !st; d++) {
        uint64_t key;
        /* Nothing changes on a failed start: the start goes to scratch
         * first. */
        if ((st = draw_start(s, rng, obs + total, n, dim, &key, fn)))
            break;
        memcpy(x, obs + total, total * sizeof(float));
        st = sample(s, rng, key, x, n, dim, &imp, fn);
        nfe += s->nfe;
        ran = 1;
        if (st || !stats)
            continue;
        for (size_t k = 0; k < total; k++) { /* Welford */
            const double v = x[k], delta = v - mean[k];
            mean[k] += delta / (double)(d + 1);
            m2[k] += delta * (v - mean[k]);
        }
    }
    if (ran)
        s->nfe = nfe;
    if (!st && stats) {
        for (size_t k = 0; k < total; k++) {
            if (m[k]) {
                if (spread)
                    spread[k] = 0.0f;
                continue;
            }
            x[k] = (float)mean[k];
            if (spread)
                spread[k] = draws > 1 ? (float)sqrt(m2[k] / (double)(draws - 1)) : NAN;
        }
    }
    free(acc);
    return st;
}

sm_status sm_sampler_impute(sm_sampler *s, sm_rng *rng, float *x, const unsigned char *mask,
                            size_t n, size_t dim)
{
    return impute(s, rng, x, NULL, mask, n, dim, "sm_sampler_impute");
}

sm_status sm_sampler_impute_spread(sm_sampler *s, sm_rng *rng, float *x, float *spread,
                                   const unsigned char *mask, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_impute_spread";
    if (!spread)
        return sm__error(SM_ERR_INVALID_ARG, "%s: spread is NULL", fn);
    return impute(s, rng, x, spread, mask, n, dim, fn);
}
