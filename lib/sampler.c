/* Samplers that walk a σ grid with a noise-conditioned score network:
 * annealed Langevin, reverse-diffusion predictor with a Langevin corrector,
 * and the probability-flow ODE (Euler, Heun). */
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

enum { INIT_AUTO, INIT_NORMAL, INIT_UNIFORM };

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
    s->kind = SM_SAMPLER_LANGEVIN;
    s->corrector_steps = 1;
    s->snr = 0.16; /* Song et al. (2021) for VE models */
    s->init = INIT_AUTO;
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

sm_status sm_sampler_set_kind(sm_sampler *s, sm_sampler_kind kind)
{
    REQUIRE(s, "sm_sampler_set_kind");
    if ((int)kind < (int)SM_SAMPLER_LANGEVIN || (int)kind > (int)SM_SAMPLER_ODE_HEUN)
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
    switch (kind) {
    case SM_SAMPLER_LANGEVIN: return "langevin";
    case SM_SAMPLER_PC: return "pc";
    case SM_SAMPLER_ODE_EULER: return "ode-euler";
    case SM_SAMPLER_ODE_HEUN: return "ode-heun";
    }
    return "unknown";
}

sm_status sm_sampler_set_corrector(sm_sampler *s, size_t steps, double snr)
{
    REQUIRE(s, "sm_sampler_set_corrector");
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
    if (dim != sm_net_dim(s->net))
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, sm_net_dim(s->net));
    size_t total, bytes;
    if (sm__mul_size(n, dim, &total) || sm__mul_size(total, 4 * sizeof(float), &bytes))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim too large", fn);
    return SM_OK;
}


/* One run: the state x (the caller's buffer, always the last finite
 * state) and n × dim scratch arrays. */
typedef struct {
    sm_sampler *s;
    sm_rng *rng;
    size_t n, dim, total, levels;
    const float *sig;
    float *x, *score, *z, *next, *aux;
    const char *fn;
} run_ctx;

static const char *hint(const sm_sampler *s, char *buf, size_t size)
{
    switch (s->kind) {
    case SM_SAMPLER_LANGEVIN:
        snprintf(buf, size, "the step ratio %g is too large for this network: lower it "
                 "(sm_sampler_set_step_ratio)", s->ratio);
        break;
    case SM_SAMPLER_PC:
        snprintf(buf, size, "lower the corrector's snr %g (sm_sampler_set_corrector) or use a "
                 "finer grid", s->snr);
        break;
    default:
        snprintf(buf, size, "use a finer grid (more levels in the sampler's schedule)");
    }
    return buf;
}

/* A failed network evaluation at level i (i = levels: the denoising step),
 * step t: a non-finite score (NaN or infinite parameters, or a walk that
 * left float range) is divergence; anything else keeps its status. */
static sm_status score_failed(const run_ctx *c, sm_status st, size_t i, float sigma, size_t t)
{
    if (st != SM_ERR_NONFINITE)
        return sm__error_wrap(st, c->fn);
    char detail[300], h[160];
    snprintf(detail, sizeof detail, "%s", sm_last_error());
    if (i == c->levels)
        return sm__error(SM_ERR_DIVERGED, "%s: the score became non-finite in the final denoising "
                         "step (%s)", c->fn, detail);
    return sm__error(SM_ERR_DIVERGED,
                     "%s: the score became non-finite at level %zu of %zu (sigma %g), step %zu "
                     "(%s); check the network's parameters, or: %s",
                     c->fn, i + 1, c->levels, (double)sigma, t + 1, detail, hint(c->s, h, sizeof h));
}

/* out = s(x, σ) for all points: one network evaluation per sample. */
static sm_status score_at(run_ctx *c, const float *x, float sigma, float *out, size_t i, size_t t)
{
    sm_status st = sm_net_forward_sigma(c->s->net, x, sigma, c->n, c->dim, out);
    if (st)
        return score_failed(c, st, i, sigma, t);
    c->s->nfe++;
    return SM_OK;
}

/* Accepts c->next as the new state if it is finite. */
static sm_status commit(run_ctx *c, size_t i, size_t t)
{
    size_t bad = sm__first_nonfinite(c->next, c->total);
    if (bad < c->total) {
        char h[160];
        if (i == c->levels)
            return sm__error(SM_ERR_DIVERGED, "%s: the final denoising step gave non-finite points",
                             c->fn);
        return sm__error(SM_ERR_DIVERGED,
                         "%s: sample %zu became non-finite at level %zu of %zu (sigma %g), step %zu; %s",
                         c->fn, bad / c->dim, i + 1, c->levels, (double)c->sig[i], t + 1,
                         hint(c->s, h, sizeof h));
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

/* Annealed Langevin: T steps x ← x + ½α·s + √α·z per level, α = r·σ². */
static sm_status run_langevin(run_ctx *c)
{
    const sm_sampler *s = c->s;
    sm_status st = SM_OK;
    for (size_t i = 0; i < c->levels && !st; i++) {
        const double alpha = s->ratio * (double)c->sig[i] * (double)c->sig[i];
        const float half_a = (float)(0.5 * alpha), root_a = (float)sqrt(alpha);
        for (size_t t = 0; t < s->steps && !st; t++) {
            if ((st = score_at(c, c->x, c->sig[i], c->score, i, t)))
                break;
            draw_noise(c);
            for (size_t k = 0; k < c->total; k++)
                c->next[k] = c->x[k] + half_a * c->score[k] + root_a * c->z[k];
            st = commit(c, i, t);
        }
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
            const double var = (double)sg * sg - (double)c->sig[i + 1] * c->sig[i + 1];
            const float fv = (float)var, fr = (float)sqrt(var);
            for (size_t k = 0; k < c->total; k++)
                c->next[k] = c->x[k] + fv * c->score[k] + fr * c->z[k];
            st = commit(c, i, t);
        }
        if (!st)
            st = level_done(c, i, sg);
    }
    return st;
}

/* Probability-flow ODE of the VE SDE in σ: dx/dσ = −σ·s(x, σ) =
 * (x − D(x, σ))/σ with the denoiser D(x, σ) = x + σ²·s(x, σ). Euler steps
 * between neighbouring levels, or Heun's: an Euler trial step, then the
 * average of the slopes at both ends. No noise: the map from the start
 * points is deterministic. */
static sm_status run_ode(run_ctx *c, int heun)
{
    sm_status st = SM_OK;
    for (size_t i = 0; i + 1 < c->levels && !st; i++) {
        const float s0 = c->sig[i], s1 = c->sig[i + 1];
        const float h = s1 - s0;
        if ((st = score_at(c, c->x, s0, c->score, i, 0)))
            break;
        /* Euler: x + h·d0, d0 = −σ0·s0. */
        for (size_t k = 0; k < c->total; k++)
            c->next[k] = c->x[k] - h * s0 * c->score[k];
        if (heun) {
            if ((st = score_at(c, c->next, s1, c->aux, i, 1)))
                break;
            const float hh = 0.5f * h;
            for (size_t k = 0; k < c->total; k++)
                c->next[k] = c->x[k] - hh * (s0 * c->score[k] + s1 * c->aux[k]);
        }
        if (!(st = commit(c, i, 0)))
            st = level_done(c, i, s0);
    }
    if (!st)
        st = level_done(c, c->levels - 1, c->sig[c->levels - 1]);
    return st;
}

/* The run on x (n × dim, finite), in place. */
static sm_status sample(sm_sampler *s, sm_rng *rng, float *x, size_t n, size_t dim,
                        const char *fn)
{
    const size_t total = n * dim;
    float *buf = sm__calloc(total, 4 * sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu points", fn, n);
    run_ctx c = {
        .s = s, .rng = rng, .n = n, .dim = dim, .total = total,
        .levels = sm_schedule_levels(s->sched), .sig = sm__schedule_sigmas(s->sched),
        .x = x, .score = buf, .z = buf + total, .next = buf + 2 * total, .aux = buf + 3 * total,
        .fn = fn,
    };
    s->nfe = 0;
    sm_status st;
    switch (s->kind) {
    case SM_SAMPLER_PC: st = run_pc(&c); break;
    case SM_SAMPLER_ODE_EULER: st = run_ode(&c, 0); break;
    case SM_SAMPLER_ODE_HEUN: st = run_ode(&c, 1); break;
    default: st = run_langevin(&c); break;
    }
    if (!st && s->denoise) {
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
    free(buf);
    return st;
}

sm_status sm_sampler_run(sm_sampler *s, sm_rng *rng, float *out, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run";
    sm_status st = check_run(s, rng, out, n, dim, fn);
    if (st)
        return st;
    double std = s->init_a;
    if (s->init == INIT_AUTO) /* N(0, I) for the lab; the VE prior N(0, σ₁²I) otherwise */
        std = s->kind == SM_SAMPLER_LANGEVIN ? 1.0 : (double)sm_schedule_sigma(s->sched, 0);
    if (s->init != INIT_UNIFORM)
        sm__rng_fill_normal(rng, out, n * dim, 0.0f, (float)std);
    else if ((st = sm_rng_fill_uniform(rng, out, n * dim, (float)s->init_a, (float)s->init_b)))
        return sm__error_wrap(st, fn);
    size_t bad = sm__first_nonfinite(out, n * dim);
    if (bad < n * dim)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: the initial N(0, %g^2) draw of sample %zu overflows float; lower "
                         "the std (sm_sampler_set_init_normal)",
                         fn, std, bad / dim);
    return sample(s, rng, out, n, dim, fn);
}

sm_status sm_sampler_run_from(sm_sampler *s, sm_rng *rng, float *x, size_t n, size_t dim)
{
    const char *fn = "sm_sampler_run_from";
    sm_status st = check_run(s, rng, x, n, dim, fn);
    if (st)
        return st;
    if ((st = sm__check_points(x, n, dim, "x", fn)))
        return st;
    return sample(s, rng, x, n, dim, fn);
}
