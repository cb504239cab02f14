/* Samplers: samples of a learned Gaussian (every kind), the collapse
 * without noise, each kind's update rule checked exactly on a constant
 * score, the network between trained levels, step-size conversions,
 * divergence handling, callbacks, reproducibility, bad arguments. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static const float MU[2] = {1.0f, -0.5f};
static const float SD = 0.6f;

typedef struct {
    sm_rng *rng;
    sm_net *net;
    sm_schedule *sched;
} model;

/* A net trained on N(MU, SD²I): its samples must have those moments. */
/* An EDM network with every parameter 0: its denoiser is
 * σ_d²/(σ² + σ_d²)·x, the exact denoiser of data N(0, σ_d²I). */
static sm_net *gaussian_edm_net(sm_rng *rng, double sigma_data)
{
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 4;
    o.depth = 1;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = sigma_data;
    sm_net *net;
    ck_assert_ok(sm_net_new_ex(&net, &o, rng));
    memset(sm_net_params(net), 0, sm_net_num_params(net) * sizeof(float));
    return net;
}

static void model_make(model *m)
{
    ck_assert_ok(sm_rng_new(&m->rng, 11));
    ck_assert_ok(sm_net_new(&m->net, 2, 64, 2, m->rng));
    ck_assert_ok(sm_schedule_new_geometric(&m->sched, 2.0, 0.05, 8));
    enum { N = 10000 };
    static float x[N * 2];
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < 2; j++)
            x[i * 2 + j] = MU[j] + SD * (float)sm_rng_normal(m->rng);
    sm_dataset *ds;
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_dataset_new(&ds, x, N, 2));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(m->net), 3e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, m->net, m->sched, opt, 256));
    ck_assert_ok(sm_trainer_fit(tr, ds, 3000, m->rng, NULL, NULL, NULL));
    ck_assert_ok(sm_optim_set_lr(opt, 3e-4)); /* settle below Adam's noise floor */
    ck_assert_ok(sm_trainer_fit(tr, ds, 1500, m->rng, NULL, NULL, NULL));
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_dataset_free(ds);
}

static void model_free(model *m)
{
    sm_schedule_free(m->sched);
    sm_net_free(m->net);
    sm_rng_free(m->rng);
}

static void moments(const float *x, size_t n, double mean[2], double sd[2])
{
    for (int j = 0; j < 2; j++) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            s1 += x[i * 2 + j];
            s2 += (double)x[i * 2 + j] * x[i * 2 + j];
        }
        mean[j] = s1 / (double)n;
        sd[j] = sqrt(fmax(s2 / (double)n - mean[j] * mean[j], 0.0));
    }
}

START_TEST(samples_have_the_data_moments)
{
    model m;
    model_make(&m);
    enum { N = 3000 };
    static float y[N * 2];
    double mean[2], sd[2];

    /* At one trained level σ with enough steps to mix, Langevin samples
     * p_σ = N(MU, (SD² + σ²)I); the discretisation adds about α/4 to the
     * variance, far inside the tolerance. */
    float sig = sm_schedule_sigma(m.sched, 3);
    sm_schedule *one;
    ck_assert_ok(sm_schedule_new_from_array(&one, &sig, 1));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, one));
    ck_assert_ok(sm_sampler_set_steps_per_scale(s, 400));
    ck_assert_ok(sm_sampler_set_step_ratio(s, 0.5));
    ck_assert_ok(sm_sampler_run(s, m.rng, y, N, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 400);
    moments(y, N, mean, sd);
    double want = sqrt((double)SD * SD + (double)sig * sig);
    for (int j = 0; j < 2; j++) {
        ck_assert_msg(fabs(mean[j] - MU[j]) < 0.06, "mean[%d] = %g, want %g", j, mean[j],
                      (double)MU[j]);
        ck_assert_msg(fabs(sd[j] - want) < 0.06 * want, "sd[%d] = %g, want %g", j, sd[j], want);
    }
    sm_sampler_free(s);
    sm_schedule_free(one);

    /* The whole ladder with 20 steps per level does not mix fully at the
     * small levels (α = 0.2σ² is tiny there), so the cloud keeps a little of
     * the start's mean and the spread of an intermediate level: check that
     * it is near the data, not the exact moments. */
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_ok(sm_sampler_set_final_denoise(s, 1));
    ck_assert_ok(sm_sampler_run(s, m.rng, y, N, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 8 * 20 + 1);
    moments(y, N, mean, sd);
    for (int j = 0; j < 2; j++) {
        ck_assert_msg(fabs(mean[j] - MU[j]) < 0.15, "mean[%d] = %g", j, mean[j]);
        ck_assert_msg(sd[j] > 0.8 * SD && sd[j] < 1.4 * SD, "sd[%d] = %g", j, sd[j]);
    }
    /* Without the noise term the walk is gradient ascent: the cloud
     * collapses toward the mode. */
    ck_assert_ok(sm_sampler_set_noise(s, 0));
    ck_assert_ok(sm_sampler_run(s, m.rng, y, N, 2));
    moments(y, N, mean, sd);
    ck_assert_double_lt(sd[0], 0.5 * SD);
    ck_assert_double_lt(sd[1], 0.5 * SD);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

/* Draws n points of the exact p_σ = N(MU, (SD² + σ²)I). */
static void draw_p_sigma(model *m, float *x, size_t n, float sigma)
{
    const double sd = sqrt((double)SD * SD + (double)sigma * sigma);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            x[i * 2 + j] = MU[j] + (float)(sd * sm_rng_normal(m->rng));
}

/* Root-mean-square of s_net − s_true over points of p_σ, relative to the
 * RMS of s_true, for the learned N(MU, SD²I): s_true = −(x − MU)/(SD² + σ²). */
static double score_error(model *m, float sigma)
{
    enum { N = 2000 };
    static float x[N * 2], s[N * 2];
    const double sd = sqrt((double)SD * SD + (double)sigma * sigma);
    draw_p_sigma(m, x, N, sigma);
    ck_assert_ok(sm_net_forward_sigma(m->net, x, sigma, N, 2, s));
    double err = 0, ref = 0;
    for (size_t k = 0; k < N * 2; k++) {
        double want = -((double)x[k] - MU[k % 2]) / (sd * sd);
        err += (s[k] - want) * (s[k] - want);
        ref += want * want;
    }
    return sqrt(err / ref);
}

START_TEST(every_kind_samples_the_data_moments)
{
    model m;
    model_make(&m);
    enum { N = 3000 };
    static float y[N * 2];
    double mean[2], sd[2];

    /* The network between its trained levels: it takes log σ as input, so
     * a σ halfway (in log σ) between two levels is as good as the levels. */
    const size_t levels = sm_schedule_levels(m.sched);
    for (size_t i = 0; i + 1 < levels; i++) {
        float a = sm_schedule_sigma(m.sched, i), b = sm_schedule_sigma(m.sched, i + 1);
        float mid = sqrtf(a * b);
        double ea = score_error(&m, a), eb = score_error(&m, b), em = score_error(&m, mid);
        ck_assert_msg(em < 0.10 && em < 2.0 * fmax(ea, eb) + 0.01,
                      "sigma %g (between %g and %g): relative error %g, at the levels %g, %g",
                      (double)mid, (double)a, (double)b, em, ea, eb);
    }

    /* Each kind, started from the exact p_σ₁ on a grid of its own (not the
     * training ladder), ends with the data's moments. */
    const double s1 = sm_schedule_sigma(m.sched, 0), sl = sm_schedule_sigma(m.sched, levels - 1);
    const struct {
        sm_sampler_kind kind;
        size_t levels;
        uint64_t nfe;
    } runs[] = {
        {SM_SAMPLER_PC, 30, 30 * 1 + 29 + 1},
        {SM_SAMPLER_ODE_EULER, 60, 59 + 1},
        {SM_SAMPLER_ODE_HEUN, 12, 2 * 11 + 1},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        sm_schedule *grid;
        if (runs[r].kind == SM_SAMPLER_PC)
            ck_assert_ok(sm_schedule_new_geometric(&grid, s1, sl, runs[r].levels));
        else
            ck_assert_ok(sm_schedule_new_karras(&grid, s1, sl, runs[r].levels, 7.0));
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, m.net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, runs[r].kind));
        ck_assert_ok(sm_sampler_set_final_denoise(s, 1));
        draw_p_sigma(&m, y, N, (float)s1);
        ck_assert_ok(sm_sampler_run_from(s, m.rng, y, N, 2));
        ck_assert_uint_eq(sm_sampler_nfe(s), runs[r].nfe);
        moments(y, N, mean, sd);
        for (int j = 0; j < 2; j++) {
            ck_assert_msg(fabs(mean[j] - MU[j]) < 0.06, "%s: mean[%d] = %g, want %g",
                          sm_sampler_kind_name(runs[r].kind), j, mean[j], (double)MU[j]);
            ck_assert_msg(fabs(sd[j] - SD) < 0.08 * SD, "%s: sd[%d] = %g, want %g",
                          sm_sampler_kind_name(runs[r].kind), j, sd[j], (double)SD);
        }
        sm_sampler_free(s);
        sm_schedule_free(grid);
    }
    model_free(&m);
}
END_TEST

/* With a constant score c every update rule has a closed-form result:
 * x_end = x_0 + k·c with k per kind (noise off where a kind has noise). */
START_TEST(update_rules_on_a_constant_score)
{
    sm_rng *rng;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&rng, 8));
    const float c[2] = {0.75f, -1.5f};
    sm_test_constant_net(&net, rng, c);
    const float sig[5] = {2.0f, 1.1f, 0.5f, 0.2f, 0.05f};
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_from_array(&grid, sig, 5));
    const double cn = sqrt((double)c[0] * c[0] + (double)c[1] * c[1]);
    double ode = 0, euler = 0, pc = 0, langevin = 0;
    for (int i = 0; i + 1 < 5; i++) {
        ode += 0.5 * ((double)sig[i] * sig[i] - (double)sig[i + 1] * sig[i + 1]);
        euler += (double)sig[i] * (sig[i] - sig[i + 1]);
        pc += (double)sig[i] * sig[i] - (double)sig[i + 1] * sig[i + 1];
    }
    /* Corrector without noise: ε = 2(snr·√dim/‖c‖)², 2 steps at each level. */
    const double snr = 0.3, eps = 2.0 * (snr * sqrt(2.0) / cn) * (snr * sqrt(2.0) / cn);
    pc += 5 * 2 * eps;
    for (int i = 0; i < 5; i++)
        langevin += 3 * 0.5 * 0.2 * (double)sig[i] * sig[i];
    const double denoise = (double)sig[4] * sig[4];
    const struct {
        sm_sampler_kind kind;
        double k;
        uint64_t nfe;
    } want[] = {
        {SM_SAMPLER_LANGEVIN, langevin + denoise, 5 * 3 + 1},
        {SM_SAMPLER_PC, pc + denoise, 5 * 2 + 4 + 1},
        {SM_SAMPLER_ODE_EULER, euler + denoise, 4 + 1},
        {SM_SAMPLER_ODE_HEUN, ode + denoise, 2 * 4 + 1},
    };
    for (size_t r = 0; r < 4; r++) {
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, want[r].kind));
        ck_assert_int_eq(sm_sampler_get_kind(s), want[r].kind);
        ck_assert_ok(sm_sampler_set_noise(s, 0));
        ck_assert_ok(sm_sampler_set_steps_per_scale(s, 3));
        ck_assert_ok(sm_sampler_set_corrector(s, 2, snr));
        ck_assert_ok(sm_sampler_set_final_denoise(s, 1));
        float x[6] = {0.5f, -0.25f, 3.0f, 1.0f, -2.0f, 0.0f}, x0[6];
        memcpy(x0, x, sizeof x);
        ck_assert_ok(sm_sampler_run_from(s, rng, x, 3, 2));
        ck_assert_uint_eq(sm_sampler_nfe(s), want[r].nfe);
        for (int k = 0; k < 6; k++)
            ck_assert_msg(fabs(x[k] - (x0[k] + want[r].k * c[k % 2])) < 1e-5,
                          "%s: x[%d] = %.7g, want %.7g", sm_sampler_kind_name(want[r].kind), k,
                          (double)x[k], x0[k] + want[r].k * c[k % 2]);
        sm_sampler_free(s);
    }
    /* Heun is exact for a constant score (the trapezoid rule integrates the
     * linear slope −σ·c exactly); Euler overshoots on a coarse grid. */
    ck_assert_double_gt(euler, ode * 1.2);
    /* The ODE kinds have no noise: with noise on they give the same points. */
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, grid));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_ODE_HEUN));
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    ck_assert_ok(sm_sampler_run_from(s, rng, a, 2, 2));
    ck_assert_ok(sm_sampler_set_noise(s, 0));
    ck_assert_ok(sm_sampler_run_from(s, rng, b, 2, 2));
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    /* The default start of the non-Langevin kinds is the VE prior N(0, σ₁²I)
     * (the one Euler step on this grid moves every point by 5e-9·c). */
    enum { N = 4000 };
    static float y[N * 2];
    const float tiny[2] = {1e-4f, 5e-5f};
    sm_schedule *one;
    ck_assert_ok(sm_schedule_new_from_array(&one, tiny, 2));
    sm_sampler *p;
    ck_assert_ok(sm_sampler_new(&p, net, one));
    ck_assert_ok(sm_sampler_set_kind(p, SM_SAMPLER_ODE_EULER));
    ck_assert_ok(sm_sampler_run(p, rng, y, N, 2));
    double mean[2], sd[2];
    moments(y, N, mean, sd);
    ck_assert_double_eq_tol(sd[0], 1e-4, 1e-5);
    sm_sampler_free(p);
    ck_assert_ok(sm_sampler_new(&p, net, grid));
    ck_assert_ok(sm_sampler_set_kind(p, SM_SAMPLER_ODE_EULER));
    ck_assert_ok(sm_sampler_run(p, rng, y, N, 2));
    moments(y, N, mean, sd);
    ck_assert_double_eq_tol(sd[1], 2.0, 0.1); /* a constant shift keeps the spread */
    sm_sampler_free(p);
    sm_schedule_free(one);
    sm_sampler_free(s);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

START_TEST(kinds_and_corrector_settings)
{
    ck_assert_str_eq(sm_sampler_kind_name(SM_SAMPLER_LANGEVIN), "langevin");
    ck_assert_str_eq(sm_sampler_kind_name(SM_SAMPLER_PC), "pc");
    ck_assert_str_eq(sm_sampler_kind_name(SM_SAMPLER_ODE_EULER), "ode-euler");
    ck_assert_str_eq(sm_sampler_kind_name(SM_SAMPLER_ODE_HEUN), "ode-heun");
    ck_assert_str_eq(sm_sampler_kind_name((sm_sampler_kind)42), "unknown");
    ck_assert_int_eq(sm_sampler_get_kind(NULL), SM_SAMPLER_LANGEVIN);
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 1));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.1, 4));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_int_eq(sm_sampler_get_kind(s), SM_SAMPLER_LANGEVIN);
    ck_assert_status(sm_sampler_set_kind(s, (sm_sampler_kind)7), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_kind(s, (sm_sampler_kind)-1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_kind(NULL, SM_SAMPLER_PC), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(sm_sampler_get_kind(s), SM_SAMPLER_LANGEVIN);
    ck_assert_status(sm_sampler_set_corrector(s, 1, 0.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_corrector(s, 1, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_corrector(s, SIZE_MAX, 0.1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_corrector(NULL, 1, 0.1), SM_ERR_INVALID_ARG);
    /* Zero corrector steps: the predictor alone, L − 1 evaluations. */
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_PC));
    ck_assert_ok(sm_sampler_set_corrector(s, 0, 0.1));
    float y[20];
    ck_assert_ok(sm_sampler_run(s, m.rng, y, 10, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 3);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

static int count_levels(size_t level, size_t levels, float sigma, const float *x, size_t n,
                        size_t dim, void *ud)
{
    float *last = ud;
    ck_assert_uint_eq(levels, 8);
    ck_assert_uint_eq(dim, 2);
    ck_assert_uint_eq(n, 50);
    ck_assert(isfinite(x[0]));
    ck_assert_float_lt(sigma, last[0]); /* strictly decreasing */
    last[0] = sigma;
    last[1] += 1;
    return level == 4; /* stop after the fifth level */
}

START_TEST(callback_and_cancel)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 1));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.1, 8));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_ok(sm_sampler_set_steps_per_scale(s, 3));
    float state[2] = {INFINITY, 0};
    ck_assert_ok(sm_sampler_set_callback(s, count_levels, state));
    float y[100];
    ck_assert_status(sm_sampler_run(s, m.rng, y, 50, 2), SM_ERR_CANCELLED);
    ck_assert_float_eq(state[1], 5.0f);
    ck_assert_uint_eq(sm_sampler_nfe(s), 5 * 3);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

/* What a grid of one level σ means for each kind of the table, checked on
 * a constant score c without noise: Langevin and the corrector step at σ,
 * the kinds that end at 0 step to it (x ← D(x, σ) = x + σ²c), and the ODE
 * kinds, or the predictor alone, which only step between levels, refuse to
 * return their start unchanged unless the final denoising step is on. */
START_TEST(one_level_grids)
{
    sm_rng *rng;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&rng, 4));
    const float c[2] = {-0.5f, 1.25f};
    sm_test_constant_net(&net, rng, c);
    const float sigma = 0.5f;
    sm_schedule *one;
    ck_assert_ok(sm_schedule_new_from_array(&one, &sigma, 1));
    const double cn = sqrt((double)c[0] * c[0] + (double)c[1] * c[1]);
    const double snr = 0.2, eps = 2.0 * (snr * sqrt(2.0) / cn) * (snr * sqrt(2.0) / cn);
    const double den = (double)sigma * sigma;
    const struct {
        sm_sampler_kind kind;
        size_t corrector;
        int denoise;
        sm_status status;
        double shift; /* x = x0 + shift·c */
        uint64_t nfe;
    } want[] = {
        {SM_SAMPLER_LANGEVIN, 1, 0, SM_OK, 3 * 0.5 * 0.2 * den, 3},
        {SM_SAMPLER_PC, 2, 0, SM_OK, 2 * eps, 2},
        {SM_SAMPLER_PC, 0, 0, SM_ERR_INVALID_ARG, 0, 0},
        {SM_SAMPLER_PC, 0, 1, SM_OK, den, 1},
        {SM_SAMPLER_ODE_EULER, 1, 0, SM_ERR_INVALID_ARG, 0, 0},
        {SM_SAMPLER_ODE_EULER, 1, 1, SM_OK, den, 1},
        {SM_SAMPLER_ODE_HEUN, 1, 0, SM_ERR_INVALID_ARG, 0, 0},
        {SM_SAMPLER_ODE_HEUN, 1, 1, SM_OK, den, 1},
        {SM_SAMPLER_EDM_HEUN, 1, 0, SM_OK, den, 1},
        {SM_SAMPLER_DPMPP_2M, 1, 0, SM_OK, den, 1},
    };
    for (size_t r = 0; r < sizeof want / sizeof want[0]; r++) {
        const char *name = sm_sampler_kind_name(want[r].kind);
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, net, one));
        ck_assert_ok(sm_sampler_set_kind(s, want[r].kind));
        ck_assert_ok(sm_sampler_set_noise(s, 0));
        ck_assert_ok(sm_sampler_set_steps_per_scale(s, 3));
        ck_assert_ok(sm_sampler_set_corrector(s, want[r].corrector, snr));
        ck_assert_ok(sm_sampler_set_final_denoise(s, want[r].denoise));
        float x[4] = {0.5f, -0.25f, 3.0f, 1.0f}, x0[4];
        memcpy(x0, x, sizeof x);
        ck_assert_status(sm_sampler_run_from(s, rng, x, 2, 2), want[r].status);
        ck_assert_uint_eq(sm_sampler_nfe(s), want[r].nfe);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(fabs(x[k] - (x0[k] + want[r].shift * c[k % 2])) < 1e-5,
                          "%s: x[%d] = %.7g, want %.7g", name, k, (double)x[k],
                          x0[k] + want[r].shift * c[k % 2]);
        float y[4] = {9, 9, 9, 9};
        ck_assert_status(sm_sampler_run(s, rng, y, 2, 2), want[r].status);
        if (want[r].status) {
            /* Refused before the start is drawn: the message names the
             * kind and the cause, the buffer is untouched. */
            ck_assert_msg(strstr(sm_last_error(), name) && strstr(sm_last_error(), "1 level"),
                          "%s", sm_last_error());
            ck_assert_float_eq(y[0], 9.0f);
        } else {
            ck_assert_uint_eq(sm_sampler_nfe(s), want[r].nfe);
        }
        sm_sampler_free(s);
    }
    /* The stochastic kind churns, then makes its one step to 0. */
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, one));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_EDM_STOCHASTIC));
    float y[4];
    ck_assert_ok(sm_sampler_run(s, rng, y, 2, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 1);
    for (int k = 0; k < 4; k++)
        ck_assert(isfinite(y[k]));
    sm_sampler_free(s);
    sm_schedule_free(one);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* The progress callback cannot change or rerun its own sampler: each
 * such call fails with SM_ERR_STATE, and the run goes on as if they had
 * not been made (same points, same NFE as a run without them). */
typedef struct {
    sm_sampler *s;
    sm_rng *rng;
    int calls, refused, other;
} reentry;

static int reenter(size_t level, size_t levels, float sigma, const float *x, size_t n,
                   size_t dim, void *ud)
{
    (void)level, (void)levels, (void)sigma, (void)x, (void)n, (void)dim;
    reentry *r = ud;
    float y[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const sm_status st[] = {
        sm_sampler_run(r->s, r->rng, y, 2, 2),
        sm_sampler_run_from(r->s, r->rng, y, 2, 2),
        sm_sampler_set_kind(r->s, SM_SAMPLER_PC),
        sm_sampler_set_steps_per_scale(r->s, 1),
        sm_sampler_set_corrector(r->s, 3, 0.5),
        sm_sampler_set_step_ratio(r->s, 0.01),
        sm_sampler_set_step_ncsn(r->s, 1e-6),
        sm_sampler_set_noise(r->s, 0),
        sm_sampler_set_init_normal(r->s, 3.0),
        sm_sampler_set_init_uniform(r->s, -1.0, 1.0),
        sm_sampler_set_final_denoise(r->s, 0),
        sm_sampler_set_churn(r->s, 0.0, 0.0, 1.0, 1.0),
        sm_sampler_set_callback(r->s, NULL, NULL),
        sm_sampler_impute(r->s, r->rng, y, (const unsigned char[4]){1, 0, 0, 1}, 2, 2),
        sm_sampler_set_resample(r->s, 1),
        sm_sampler_set_impute_draws(r->s, 2),
        sm_sampler_impute_spread(r->s, r->rng, y, y + 2, (const unsigned char[2]){1, 0}, 1, 2),
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        if (st[i] == SM_ERR_STATE)
            r->refused++;
        else
            r->other++;
    }
    r->calls++;
    return 0;
}

START_TEST(callback_cannot_reenter_its_sampler)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 1));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.1, 4));
    sm_rng *r2;
    ck_assert_ok(sm_rng_new(&r2, 77));
    float y[2][40];
    sm_sampler *s[2];
    reentry r = {NULL, r2, 0, 0, 0};
    for (int with_cb = 0; with_cb < 2; with_cb++) {
        ck_assert_ok(sm_sampler_new(&s[with_cb], m.net, m.sched));
        ck_assert_ok(sm_sampler_set_steps_per_scale(s[with_cb], 2));
        ck_assert_ok(sm_sampler_set_final_denoise(s[with_cb], 1));
        if (with_cb) {
            r.s = s[1];
            ck_assert_ok(sm_sampler_set_callback(s[1], reenter, &r));
        }
        ck_assert_ok(sm_rng_reseed(m.rng, 9));
        ck_assert_ok(sm_sampler_run(s[with_cb], m.rng, y[with_cb], 20, 2));
        ck_assert_uint_eq(sm_sampler_nfe(s[with_cb]), 4 * 2 + 1);
    }
    ck_assert_int_eq(r.calls, 5); /* 4 levels and the denoising step */
    ck_assert_int_eq(r.refused, 5 * 17);
    ck_assert_int_eq(r.other, 0);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "running"));
    ck_assert_int_eq(memcmp(y[0], y[1], sizeof y[0]), 0);
    /* Once the run is over, the same calls work again. */
    ck_assert_ok(sm_sampler_set_callback(s[1], NULL, NULL));
    ck_assert_ok(sm_sampler_set_steps_per_scale(s[1], 1));
    ck_assert_ok(sm_sampler_run(s[1], m.rng, y[1], 20, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s[1]), 4 + 1);
    sm_sampler_free(s[0]);
    sm_sampler_free(s[1]);
    sm_rng_free(r2);
    model_free(&m);
}
END_TEST

START_TEST(step_size_forms)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 1));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.01, 10));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_double_eq(sm_sampler_step_ratio(s), 0.2);
    ck_assert_ok(sm_sampler_set_step_ncsn(s, 2e-5)); /* ε/σ_L² = 2e-5/1e-4 */
    ck_assert_double_eq_tol(sm_sampler_step_ratio(s), 0.2, 1e-6);
    ck_assert_ok(sm_sampler_set_step_ratio(s, 0.05));
    ck_assert_double_eq(sm_sampler_step_ratio(s), 0.05);
    ck_assert_status(sm_sampler_set_step_ratio(s, 0.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_step_ratio(s, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_step_ncsn(s, -1.0), SM_ERR_INVALID_ARG);
    ck_assert_double_eq(sm_sampler_step_ratio(s), 0.05);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

START_TEST(divergence_is_reported_with_last_finite_state)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 2));
    ck_assert_ok(sm_net_new(&m.net, 2, 16, 1, m.rng));
    /* Make the net's output large so a huge step overflows quickly. */
    float *p = sm_net_params(m.net);
    for (size_t i = 0; i < sm_net_num_params(m.net); i++)
        p[i] *= 50.0f;
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.01, 10));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    /* The printed lab rule: α = 0.1·(σ/σ_L)², i.e. ratio 0.1/σ_L² = 1000. */
    ck_assert_ok(sm_sampler_set_step_ratio(s, 1000.0));
    float y[200];
    ck_assert_status(sm_sampler_run(s, m.rng, y, 100, 2), SM_ERR_DIVERGED);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "level 1 of 10"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "step ratio"));
    for (int i = 0; i < 200; i++)
        ck_assert(isfinite(y[i]));
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

START_TEST(initial_distributions_and_run_from)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 3));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    /* One tiny level and a tiny step: the points barely move, so the output
     * shows the initial distribution. */
    float tiny[1] = {1e-3f};
    ck_assert_ok(sm_schedule_new_from_array(&m.sched, tiny, 1));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_ok(sm_sampler_set_step_ratio(s, 1e-6));
    ck_assert_ok(sm_sampler_set_steps_per_scale(s, 1));
    enum { N = 4000 };
    static float y[N * 2];
    ck_assert_ok(sm_sampler_set_init_uniform(s, 2.0, 3.0));
    ck_assert_ok(sm_sampler_run(s, m.rng, y, N, 2));
    for (size_t i = 0; i < N * 2; i++)
        ck_assert(y[i] > 1.999f && y[i] < 3.001f);
    ck_assert_ok(sm_sampler_set_init_normal(s, 3.0));
    ck_assert_ok(sm_sampler_run(s, m.rng, y, N, 2));
    double mean[2], sd[2];
    moments(y, N, mean, sd);
    ck_assert_double_eq_tol(sd[0], 3.0, 0.15);
    ck_assert_double_eq_tol(mean[1], 0.0, 0.15);
    float x[4] = {5, 5, -5, -5};
    ck_assert_ok(sm_sampler_run_from(s, m.rng, x, 2, 2));
    ck_assert_float_eq_tol(x[0], 5.0f, 1e-3f);
    ck_assert_float_eq_tol(x[3], -5.0f, 1e-3f);
    x[1] = NAN;
    ck_assert_status(sm_sampler_run_from(s, m.rng, x, 2, 2), SM_ERR_NONFINITE);
    ck_assert_status(sm_sampler_set_init_uniform(s, 3.0, 2.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_init_normal(s, 0.0), SM_ERR_INVALID_ARG);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

START_TEST(same_seed_same_samples)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 4));
    ck_assert_ok(sm_net_new(&m.net, 2, 32, 2, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.01, 10));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    ck_assert_ok(sm_sampler_set_steps_per_scale(s, 5));
    float a[600], b[600];
    sm_rng *r1, *r2;
    ck_assert_ok(sm_rng_new(&r1, 99));
    ck_assert_ok(sm_rng_new(&r2, 99));
    ck_assert_ok(sm_sampler_run(s, r1, a, 300, 2));
    ck_assert_ok(sm_sampler_run(s, r2, b, 300, 2));
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    sm_rng_free(r1);
    sm_rng_free(r2);
    sm_sampler_free(s);
    model_free(&m);
}
END_TEST

START_TEST(bad_arguments)
{
    model m;
    ck_assert_ok(sm_rng_new(&m.rng, 5));
    ck_assert_ok(sm_net_new(&m.net, 2, 8, 1, m.rng));
    ck_assert_ok(sm_schedule_new_geometric(&m.sched, 1.0, 0.1, 3));
    sm_sampler *s = (sm_sampler *)1;
    ck_assert_status(sm_sampler_new(&s, NULL, m.sched), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_status(sm_sampler_new(NULL, m.net, m.sched), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_sampler_new(&s, m.net, m.sched));
    float y[6];
    ck_assert_status(sm_sampler_run(s, m.rng, y, 2, 3), SM_ERR_SHAPE);
    ck_assert_status(sm_sampler_run(s, NULL, y, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_run(s, m.rng, NULL, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_run(s, m.rng, y, 0, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_run(s, m.rng, y, SIZE_MAX / 2, 2), SM_ERR_OVERFLOW);
    ck_assert_status(sm_sampler_set_steps_per_scale(s, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_noise(NULL, 1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_run(NULL, m.rng, y, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_sampler_nfe(NULL), 0);
    ck_assert_ok(sm_sampler_run(s, m.rng, y, 3, 2)); /* still usable */
    sm_sampler_free(s);
    sm_sampler_free(NULL);
    model_free(&m);
}
END_TEST

/* The factor by which a deterministic kind scales every point on the exact
 * denoiser D = c·x, c = σ_d²/(σ² + σ_d²), restated from the published
 * algorithms (EDM Algorithm 1; DPM-Solver++(2M) as in k-diffusion; the
 * ODE kind's Heun steps without the last one), in double. */
static double linear_factor(sm_sampler_kind kind, const float *g, size_t L, double sd)
{
    double x = 1.0, old = 0.0, h_last = 0.0;
    const size_t steps = kind == SM_SAMPLER_ODE_HEUN ? L - 1 : L;
    for (size_t i = 0; i < steps; i++) {
        const double s0 = g[i], s1 = i + 1 < L ? g[i + 1] : 0.0;
        const double den = sd * sd / (s0 * s0 + sd * sd) * x;
        if (kind == SM_SAMPLER_DPMPP_2M) {
            if (s1 == 0.0) {
                x = den;
            } else {
                const double h = log(s0) - log(s1);
                double dd = den;
                if (i > 0) {
                    const double r = h_last / h;
                    dd = (1 + 1 / (2 * r)) * den - 1 / (2 * r) * old;
                }
                x = s1 / s0 * x - expm1(-h) * dd;
                h_last = h;
            }
            old = den;
            continue;
        }
        const double d = (x - den) / s0;
        double xn = x + (s1 - s0) * d;
        if (s1 > 0) {
            const double d2 = (xn - sd * sd / (s1 * s1 + sd * sd) * xn) / s1;
            xn = x + (s1 - s0) * (d + d2) / 2;
        }
        x = xn;
    }
    return x;
}

/* On the exact denoiser of N(0, σ_d²I) the deterministic kinds scale each
 * start point by the factor of their recurrence (checked point by point
 * from caller start points: the update rules exactly), and every kind
 * turns N(0, σ_max²I) into N(0, σ_d²I) up to its discretization error
 * (≈ 5 % at 18 levels; the stochastic kind, whose churn lengthens every
 * step, ≈ 13 % at 18 levels and ≈ 3.5 % at 60, so it runs on 60). NFE per
 * the documented rules. */
START_TEST(edm_kinds_sample_a_known_gaussian)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 5));
    const double sd = 0.5;
    sm_net *net = gaussian_edm_net(rng, sd);
    enum { L = 18, L_STOCH = 60 };
    sm_schedule *grid, *fine;
    ck_assert_ok(sm_schedule_new_karras(&grid, 80.0, 0.002, L, 7.0));
    ck_assert_ok(sm_schedule_new_karras(&fine, 80.0, 0.002, L_STOCH, 7.0));
    float g[L];
    ck_assert_ok(sm_schedule_get_sigmas(grid, g, L));
    const sm_sampler_kind kinds[] = {SM_SAMPLER_EDM_HEUN, SM_SAMPLER_EDM_STOCHASTIC,
                                     SM_SAMPLER_DPMPP_2M, SM_SAMPLER_ODE_HEUN};
    const uint64_t nfe[] = {2 * L - 1, 2 * L_STOCH - 1, L, 2 * (L - 1)};
    enum { N = 4000 };
    static float x[N * 2], x0[N * 2];
    for (size_t k = 0; k < 4; k++) {
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, net, kinds[k] == SM_SAMPLER_EDM_STOCHASTIC ? fine : grid));
        ck_assert_ok(sm_sampler_set_kind(s, kinds[k]));
        sm_sampler_kind back;
        ck_assert_ok(sm_sampler_kind_from_name(sm_sampler_kind_name(kinds[k]), &back));
        ck_assert_int_eq(back, kinds[k]);
        ck_assert_ok(sm_sampler_run(s, rng, x, N, 2));
        ck_assert_uint_eq(sm_sampler_nfe(s), nfe[k]);
        double m = 0, q = 0;
        for (size_t i = 0; i < N * 2; i++) {
            m += x[i];
            q += (double)x[i] * x[i];
        }
        m /= N * 2;
        double std = sqrt(q / (N * 2) - m * m);
        ck_assert_msg(fabs(std - sd) < 0.07 * sd && fabs(m) < 0.05,
                      "%s: mean %g std %g, want 0 and %g", sm_sampler_kind_name(kinds[k]), m,
                      std, sd);
        if (kinds[k] != SM_SAMPLER_EDM_STOCHASTIC) {
            const double f = linear_factor(kinds[k], g, L, sd);
            ck_assert_ok(sm_rng_fill_normal(rng, x0, 20, 0.0f, 80.0f));
            memcpy(x, x0, 20 * sizeof(float));
            ck_assert_ok(sm_sampler_run_from(s, rng, x, 10, 2));
            for (size_t i = 0; i < 20; i++)
                ck_assert_msg(fabs(x[i] - f * x0[i]) <= 1e-4 * fabs(f * x0[i]) + 1e-6,
                              "%s: point value %zu is %g, the recurrence gives %g",
                              sm_sampler_kind_name(kinds[k]), i, (double)x[i], f * x0[i]);
        }
        sm_sampler_free(s);
    }
    sm_schedule_free(grid);
    sm_schedule_free(fine);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* With one seed, the first points of a run do not depend on how many are
 * drawn, for the kinds that draw noise per point. */
START_TEST(per_point_noise_keeps_prefixes)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 8));
    sm_net *net = gaussian_edm_net(rng, 1.0);
    /* A non-zero MLP, so the network's output matters too. */
    ck_assert_ok(sm_rng_fill_normal(rng, sm_net_params(net), sm_net_num_params(net), 0, 0.3f));
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 20.0, 0.01, 8, 7.0));
    const sm_sampler_kind kinds[] = {SM_SAMPLER_EDM_HEUN, SM_SAMPLER_EDM_STOCHASTIC,
                                     SM_SAMPLER_DPMPP_2M, SM_SAMPLER_ODE_EULER};
    static float a[10 * 2], b[700 * 2];
    for (size_t k = 0; k < 4; k++) {
        sm_sampler *s;
        sm_rng *r1, *r2;
        ck_assert_ok(sm_sampler_new(&s, net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, kinds[k]));
        ck_assert_ok(sm_sampler_set_churn(s, 40.0, 0.0, 100.0, 1.0));
        ck_assert_ok(sm_rng_new(&r1, 77));
        ck_assert_ok(sm_rng_new(&r2, 77));
        ck_assert_ok(sm_sampler_run(s, r1, a, 10, 2));
        ck_assert_ok(sm_sampler_run(s, r2, b, 700, 2));
        for (size_t i = 0; i < 20; i++)
            ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])),
                          "%s: value %zu is %g with 10 points, %g with 700",
                          sm_sampler_kind_name(kinds[k]), i, (double)a[i], (double)b[i]);
        /* Another seed gives other points. */
        ck_assert_ok(sm_rng_reseed(r1, 78));
        ck_assert_ok(sm_sampler_run(s, r1, a, 10, 2));
        ck_assert_float_ne(a[0], b[0]);
        sm_rng_free(r1);
        sm_rng_free(r2);
        sm_sampler_free(s);
    }
    /* Bad churn settings. */
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, grid));
    ck_assert_status(sm_sampler_set_churn(s, -1.0, 0.0, 1.0, 1.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_churn(s, 1.0, 2.0, 1.0, 1.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_churn(s, 1.0, 0.0, INFINITY, 1.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_churn(s, NAN, 0.0, 1.0, 1.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_churn(NULL, 1.0, 0.0, 1.0, 1.0), SM_ERR_INVALID_ARG);
    sm_sampler_kind kind;
    ck_assert_status(sm_sampler_kind_from_name("heun", &kind), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_kind_from_name(NULL, &kind), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_kind_from_name("pc", NULL), SM_ERR_INVALID_ARG);
    /* An EDM network that never learned its σ_data cannot sample. */
    sm_net *fresh = gaussian_edm_net(rng, 0.0);
    sm_sampler *s2;
    ck_assert_ok(sm_sampler_new(&s2, fresh, grid));
    ck_assert_status(sm_sampler_run(s2, rng, a, 10, 2), SM_ERR_STATE);
    sm_sampler_free(s2);
    sm_net_free(fresh);
    sm_sampler_free(s);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST


/* ---- contexts and classifier-free guidance --------------------------------- */

/* An EDM network with a context of width 2 and random weights (so the
 * context matters). */
static sm_net *cond_net(sm_rng *rng)
{
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 16;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = 1.0;
    o.context_dim = 2;
    sm_net *net;
    ck_assert_ok(sm_net_new_ex(&net, &o, rng));
    return net;
}

/* With a one-level grid DPM-Solver++(2M) returns D(x, σ₁) of its start:
 * the guided denoiser itself, checked against the network's passes. */
START_TEST(guidance_combines_conditional_and_unconditional)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 4));
    sm_net *net = cond_net(rng);
    const float level = 0.8f;
    sm_schedule *one;
    ck_assert_ok(sm_schedule_new_from_array(&one, &level, 1));
    enum { N = 5 };
    float x0[N * 2], ctx[N * 2], x[N * 2], dc[N * 2], du[N * 2], sig[N];
    ck_assert_ok(sm_rng_fill_normal(rng, x0, N * 2, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(rng, ctx, N * 2, 0, 1));
    for (size_t i = 0; i < N; i++)
        sig[i] = level;
    ck_assert_ok(sm_net_denoise_cond(net, x0, sig, ctx, N, 2, 2, dc));
    ck_assert_ok(sm_net_denoise_cond(net, x0, sig, NULL, N, 2, 2, du));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, one));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_DPMPP_2M));
    ck_assert_ok(sm_sampler_set_context(s, ctx, N, 2));
    const double w = 1.5;
    ck_assert_ok(sm_sampler_set_guidance(s, w, 0.0, INFINITY));
    memcpy(x, x0, sizeof x);
    ck_assert_ok(sm_sampler_run_from(s, rng, x, N, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 2);
    for (size_t i = 0; i < N * 2; i++) {
        const float want = (float)(1.0 + w) * dc[i] - (float)w * du[i];
        ck_assert_float_eq_tol(x[i], want, 1e-5f * (1.0f + fabsf(want)));
    }
    /* Outside the guided σ range: the conditional denoiser, one NFE. */
    ck_assert_ok(sm_sampler_set_guidance(s, w, 0.0, 0.5));
    memcpy(x, x0, sizeof x);
    ck_assert_ok(sm_sampler_run_from(s, rng, x, N, 2));
    ck_assert_uint_eq(sm_sampler_nfe(s), 1);
    ck_assert_int_eq(memcmp(x, dc, sizeof x), 0);
    /* Without contexts: the unconditional denoiser. */
    ck_assert_ok(sm_sampler_set_guidance(s, 0.0, 0.0, INFINITY));
    ck_assert_ok(sm_sampler_set_context(s, NULL, 0, 0));
    memcpy(x, x0, sizeof x);
    ck_assert_ok(sm_sampler_run_from(s, rng, x, N, 2));
    ck_assert_int_eq(memcmp(x, du, sizeof x), 0);
    sm_sampler_free(s);
    sm_schedule_free(one);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* For every kind: guidance w = 0 is the plain conditional run, bit for
 * bit; w > 0 changes it and doubles the NFE of a kind without a final
 * denoising step. */
START_TEST(guidance_zero_is_conditional)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 6));
    sm_net *net = cond_net(rng);
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 5.0, 0.01, 6, 7.0));
    const float ctx[2] = {1.0f, 0.0f};
    enum { N = 40 };
    static float a[N * 2], b[N * 2];
    for (int k = SM_SAMPLER_LANGEVIN; k <= SM_SAMPLER_DPMPP_2M; k++) {
        sm_sampler *s;
        sm_rng *r;
        ck_assert_ok(sm_sampler_new(&s, net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, (sm_sampler_kind)k));
        ck_assert_ok(sm_sampler_set_steps_per_scale(s, 2));
        ck_assert_ok(sm_sampler_set_step_ratio(s, 0.05));
        ck_assert_ok(sm_sampler_set_context(s, ctx, 1, 2));
        ck_assert_ok(sm_rng_new(&r, 3));
        ck_assert_ok(sm_sampler_run(s, r, a, N, 2));
        const uint64_t nfe = sm_sampler_nfe(s);
        ck_assert_ok(sm_sampler_set_guidance(s, 0.0, 0.0, INFINITY));
        ck_assert_ok(sm_rng_reseed(r, 3));
        ck_assert_ok(sm_sampler_run(s, r, b, N, 2));
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s: w = 0 differs from conditional",
                      sm_sampler_kind_name((sm_sampler_kind)k));
        ck_assert_uint_eq(sm_sampler_nfe(s), nfe);
        ck_assert_ok(sm_sampler_set_guidance(s, 2.0, 0.0, INFINITY));
        ck_assert_ok(sm_rng_reseed(r, 3));
        ck_assert_ok(sm_sampler_run(s, r, b, N, 2));
        ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
        ck_assert_uint_eq(sm_sampler_nfe(s), 2 * nfe);
        sm_rng_free(r);
        sm_sampler_free(s);
    }
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* Per-point kinds: one run with different contexts per row gives what
 * separate runs with one context each give for those rows (same seed and
 * the same number of points), with and without guidance; one broadcast row
 * equals the same row repeated. */
START_TEST(per_row_contexts_equal_separate_runs)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 12));
    sm_net *net = cond_net(rng);
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 10.0, 0.01, 8, 7.0));
    enum { N = 6 };
    const float c1[2] = {1.0f, 0.0f}, c2[2] = {0.0f, 1.0f};
    float mixed[N * 2], rep[N * 2];
    for (size_t i = 0; i < N; i++) {
        memcpy(mixed + 2 * i, i < N / 2 ? c1 : c2, sizeof c1);
        memcpy(rep + 2 * i, c1, sizeof c1);
    }
    const sm_sampler_kind kinds[] = {SM_SAMPLER_EDM_HEUN, SM_SAMPLER_EDM_STOCHASTIC,
                                     SM_SAMPLER_DPMPP_2M};
    float m[N * 2], a[N * 2], b[N * 2];
    for (size_t k = 0; k < 3; k++)
        for (int guided = 0; guided < 2; guided++) {
            sm_sampler *s;
            sm_rng *r;
            ck_assert_ok(sm_rng_new(&r, 1));
            ck_assert_ok(sm_sampler_new(&s, net, grid));
            ck_assert_ok(sm_sampler_set_kind(s, kinds[k]));
            ck_assert_ok(sm_sampler_set_churn(s, 10.0, 0.0, 100.0, 1.0));
            if (guided)
                ck_assert_ok(sm_sampler_set_guidance(s, 2.0, 0.0, INFINITY));
            ck_assert_ok(sm_sampler_set_context(s, mixed, N, 2));
            ck_assert_ok(sm_sampler_run(s, r, m, N, 2));
            ck_assert_ok(sm_sampler_set_context(s, c1, 1, 2));
            ck_assert_ok(sm_rng_reseed(r, 1));
            ck_assert_ok(sm_sampler_run(s, r, a, N, 2));
            ck_assert_ok(sm_sampler_set_context(s, c2, 1, 2));
            ck_assert_ok(sm_rng_reseed(r, 1));
            ck_assert_ok(sm_sampler_run(s, r, b, N, 2));
            for (size_t i = 0; i < N * 2; i++) {
                const float want = i < N ? a[i] : b[i];
                ck_assert_msg(fabsf(m[i] - want) <= 1e-5f * (1.0f + fabsf(want)),
                              "%s%s: value %zu is %g in one run, %g in separate runs",
                              sm_sampler_kind_name(kinds[k]), guided ? " guided" : "", i,
                              (double)m[i], (double)want);
            }
            /* The two contexts give different points. */
            ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
            /* Broadcast = the row repeated. */
            ck_assert_ok(sm_sampler_set_context(s, rep, N, 2));
            ck_assert_ok(sm_rng_reseed(r, 1));
            ck_assert_ok(sm_sampler_run(s, r, b, N, 2));
            ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
            sm_rng_free(r);
            sm_sampler_free(s);
        }
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* ---- imputation ---------------------------------------------------------- */

static const sm_sampler_kind IMPUTE_KINDS[] = {
    SM_SAMPLER_LANGEVIN,  SM_SAMPLER_PC,        SM_SAMPLER_ODE_EULER,        SM_SAMPLER_ODE_HEUN,
    SM_SAMPLER_EDM_HEUN, SM_SAMPLER_EDM_STOCHASTIC, SM_SAMPLER_DPMPP_2M,
};
#define NUM_KINDS_TESTED (sizeof IMPUTE_KINDS / sizeof IMPUTE_KINDS[0])

/* Every kind on the exact denoiser of N(0, σ_d²I) with coordinate 0
 * observed: the observed values come back exactly, the missing coordinate, independent of the observed one, has the
 * marginal N(0, σ_d²) as its conditional; rows with every coordinate
 * observed are unchanged and rows with none are sampled. NFE with
 * resampling per the documented rules. */
START_TEST(impute_exact_gaussian_every_kind)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 21));
    const double sd = 0.5;
    sm_net *net = gaussian_edm_net(rng, sd);
    enum { L = 18, N = 4000, T = 10, C = 2 };
    sm_schedule *grid, *fine, *geo;
    ck_assert_ok(sm_schedule_new_karras(&grid, 80.0, 0.002, L, 7.0));
    ck_assert_ok(sm_schedule_new_karras(&fine, 80.0, 0.002, 60, 7.0));
    /* Langevin and PC on the lab's kind of ladder (Langevin starts at N(0, I)). */
    ck_assert_ok(sm_schedule_new_geometric(&geo, 2.0, 0.01, 10));
    static float x[N * 2];
    static unsigned char mask[N * 2];
    for (size_t r = 0; r < 3; r++)
        for (size_t k = 0; k < NUM_KINDS_TESTED; k++) {
            const sm_sampler_kind kind = IMPUTE_KINDS[k];
            const int stoch = kind == SM_SAMPLER_EDM_STOCHASTIC;
            const int lab = kind == SM_SAMPLER_LANGEVIN || kind == SM_SAMPLER_PC;
            const sm_schedule *g = stoch ? fine : lab ? geo : grid;
            const uint64_t Lg = stoch ? 60 : lab ? 10 : L;
            sm_sampler *s;
            ck_assert_ok(sm_sampler_new(&s, net, g));
            ck_assert_ok(sm_sampler_set_kind(s, kind));
            ck_assert_ok(sm_sampler_set_steps_per_scale(s, T));
            ck_assert_ok(sm_sampler_set_corrector(s, C, 0.16));
            ck_assert_ok(sm_sampler_set_resample(s, r));
            ck_assert_uint_eq(sm_sampler_resample(s), r);
            for (size_t i = 0; i < N; i++) {
                x[2 * i] = (float)(i % 7) * 0.25f - 0.75f;
                x[2 * i + 1] = NAN;                     /* missing: any value */
                mask[2 * i] = 1;
                mask[2 * i + 1] = 0;
            }
            /* Row 0 fully observed, row 1 fully missing. */
            x[1] = 0.25f;
            mask[1] = 1;
            x[2] = NAN;
            mask[2] = 0;
            ck_assert_ok(sm_sampler_impute(s, rng, x, mask, N, 2));
            ck_assert_float_eq(x[0], -0.75f);
            ck_assert_float_eq(x[1], 0.25f);
            ck_assert(isfinite(x[2]) && isfinite(x[3]));
            for (size_t i = 2; i < N; i++)
                ck_assert_float_eq(x[2 * i], (float)(i % 7) * 0.25f - 0.75f);
            double m = 0, q = 0;
            for (size_t i = 1; i < N; i++) {
                m += x[2 * i + 1];
                q += (double)x[2 * i + 1] * x[2 * i + 1];
            }
            m /= N - 1;
            const double std = sqrt(q / (N - 1) - m * m);
            /* Without jumps, coordinate 1 walks as in a run of the kind
             * (its discretization error included: annealed Langevin and
             * PC with the lab's step sizes stop mixing at the small levels,
             * Euler's first-order steps shrink). The kinds that end at
             * σ = 0 reach σ_d with jumps too. */
            ck_assert_ok(sm_sampler_run(s, rng, x, N, 2));
            double rm = 0, rq = 0;
            for (size_t i = 0; i < N; i++) {
                rm += x[2 * i + 1];
                rq += (double)x[2 * i + 1] * x[2 * i + 1];
            }
            rm /= N;
            const double run_std = sqrt(rq / N - rm * rm);
            ck_assert_msg(fabs(m) < 0.05, "%s, resample %zu: mean %g", sm_sampler_kind_name(kind),
                          r, m);
            if (r == 0)
                ck_assert_msg(fabs(std - run_std) < 0.07 * run_std,
                              "%s: imputed std %g, a run's %g", sm_sampler_kind_name(kind), std,
                              run_std);
            /* DPM-Solver++(2M)'s repeated steps are first order. */
            const double tol = kind == SM_SAMPLER_DPMPP_2M && r ? 0.15 : 0.1;
            if (kind >= SM_SAMPLER_EDM_HEUN)
                ck_assert_msg(fabs(std - sd) < tol * sd, "%s, resample %zu: std %g, want %g",
                              sm_sampler_kind_name(kind), r, std, sd);
            ck_assert_ok(sm_sampler_impute(s, rng, x, mask, 1, 2)); /* a run resets the count */
            uint64_t nfe;
            switch (kind) {
            case SM_SAMPLER_LANGEVIN: nfe = Lg * T + r * (Lg - 1) * T; break;
            case SM_SAMPLER_PC: nfe = Lg * C + Lg - 1 + r * (Lg - 1) * (C + 1); break;
            case SM_SAMPLER_ODE_EULER: nfe = (1 + r) * (Lg - 1); break;
            case SM_SAMPLER_ODE_HEUN: nfe = (1 + r) * 2 * (Lg - 1); break;
            case SM_SAMPLER_DPMPP_2M: nfe = (1 + r) * Lg; break;
            default: nfe = (1 + r) * (2 * Lg - 1); break;
            }
            ck_assert_msg(sm_sampler_nfe(s) == nfe, "%s, resample %zu: nfe %llu, want %llu",
                          sm_sampler_kind_name(kind), r,
                          (unsigned long long)sm_sampler_nfe(s), (unsigned long long)nfe);
            sm_sampler_free(s);
        }
    sm_schedule_free(grid);
    sm_schedule_free(fine);
    sm_schedule_free(geo);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* The per-point kinds impute the first rows of a batch the same whatever
 * the batch's size; the missing values differ with the observed ones. */
START_TEST(impute_per_point_prefixes)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 8));
    sm_net *net = gaussian_edm_net(rng, 1.0);
    ck_assert_ok(sm_rng_fill_normal(rng, sm_net_params(net), sm_net_num_params(net), 0, 0.3f));
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 20.0, 0.01, 8, 7.0));
    const sm_sampler_kind kinds[] = {SM_SAMPLER_EDM_HEUN, SM_SAMPLER_EDM_STOCHASTIC,
                                     SM_SAMPLER_DPMPP_2M};
    enum { N = 300 };
    static float a[10 * 2], b[N * 2], c[10 * 2];
    static unsigned char mask[N * 2];
    for (size_t i = 0; i < N; i++) {
        mask[2 * i] = i % 3 != 0;
        mask[2 * i + 1] = i % 3 == 0;
    }
    for (size_t k = 0; k < 3; k++) {
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, kinds[k]));
        ck_assert_ok(sm_sampler_set_churn(s, 40.0, 0.0, 100.0, 1.0));
        ck_assert_ok(sm_sampler_set_resample(s, 1));
        for (size_t i = 0; i < N * 2; i++)
            b[i] = (float)i * 0.01f;
        memcpy(a, b, sizeof a);
        memcpy(c, b, sizeof c);
        ck_assert_ok(sm_rng_reseed(rng, 77));
        ck_assert_ok(sm_sampler_impute(s, rng, a, mask, 10, 2));
        ck_assert_ok(sm_rng_reseed(rng, 77));
        ck_assert_ok(sm_sampler_impute(s, rng, b, mask, N, 2));
        for (size_t i = 0; i < 20; i++)
            ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])),
                          "%s: value %zu is %g with 10 rows, %g with %d",
                          sm_sampler_kind_name(kinds[k]), i, (double)a[i], (double)b[i], N);
        /* Other observed values, other imputations. */
        c[1] += 1.0f;
        ck_assert_ok(sm_rng_reseed(rng, 77));
        ck_assert_ok(sm_sampler_impute(s, rng, c, mask, 10, 2));
        ck_assert_float_ne(c[0], a[0]);
        ck_assert_float_eq(c[1], a[1] + 1.0f);
        sm_sampler_free(s);
    }
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* Several draws per point: the average of K imputations is the average of
 * K calls with one draw each on the same generator (same bits), the NFE K
 * times one draw's; the spread is the draws' standard deviation (NaN with
 * one draw), 0 on observed entries; one draw with the spread gives the
 * bits of sm_sampler_impute(). On N(0, σ_d²I) the average of K draws of
 * an independent coordinate has standard deviation σ_d/√K. */
START_TEST(impute_several_draws)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 5));
    const double sd = 0.5;
    sm_net *net = gaussian_edm_net(rng, sd);
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 80.0, 0.002, 18, 7.0));
    enum { N = 2000, K = 16 };
    static float x[N * 2], one[N * 2], spread[N * 2];
    static double ref[N * 2];
    static unsigned char mask[N * 2];
    for (size_t i = 0; i < N; i++) {
        mask[2 * i] = 1;
        mask[2 * i + 1] = 0;
    }
    const sm_sampler_kind kinds[] = {SM_SAMPLER_EDM_STOCHASTIC, SM_SAMPLER_LANGEVIN};
    for (size_t kk = 0; kk < 2; kk++) {
        sm_sampler *s;
        ck_assert_ok(sm_sampler_new(&s, net, grid));
        ck_assert_ok(sm_sampler_set_kind(s, kinds[kk]));
        ck_assert_ok(sm_sampler_set_steps_per_scale(s, 2));
        ck_assert_uint_eq(sm_sampler_impute_draws(s), 1);
        /* K separate draws. */
        ck_assert_ok(sm_rng_reseed(rng, 99));
        memset(ref, 0, sizeof ref);
        for (size_t d = 0; d < 3; d++) {
            for (size_t i = 0; i < N; i++) {
                one[2 * i] = (float)(i % 5) * 0.2f - 0.4f;
                one[2 * i + 1] = NAN;
            }
            ck_assert_ok(sm_sampler_impute(s, rng, one, mask, N, 2));
            for (size_t i = 0; i < N * 2; i++) {
                const double delta = one[i] - ref[i];
                ref[i] += delta / (double)(d + 1);
            }
        }
        const uint64_t nfe1 = sm_sampler_nfe(s);
        ck_assert_ok(sm_sampler_set_impute_draws(s, 3));
        ck_assert_uint_eq(sm_sampler_impute_draws(s), 3);
        for (size_t i = 0; i < N; i++) {
            x[2 * i] = (float)(i % 5) * 0.2f - 0.4f;
            x[2 * i + 1] = NAN;
        }
        ck_assert_ok(sm_rng_reseed(rng, 99));
        ck_assert_ok(sm_sampler_impute_spread(s, rng, x, spread, mask, N, 2));
        ck_assert_uint_eq(sm_sampler_nfe(s), 3 * nfe1);
        for (size_t i = 0; i < N; i++) {
            ck_assert_float_eq(x[2 * i], (float)(i % 5) * 0.2f - 0.4f);
            ck_assert_float_eq(spread[2 * i], 0.0f);
            ck_assert_float_eq(x[2 * i + 1], (float)ref[2 * i + 1]);
            ck_assert(spread[2 * i + 1] >= 0.0f && isfinite(spread[2 * i + 1]));
        }
        /* One draw with the spread: sm_sampler_impute()'s bits, NaN spread. */
        ck_assert_ok(sm_sampler_set_impute_draws(s, 1));
        for (size_t i = 0; i < N * 2; i++)
            one[i] = x[i] = mask[i] ? 0.3f : NAN;
        ck_assert_ok(sm_rng_reseed(rng, 4));
        ck_assert_ok(sm_sampler_impute(s, rng, one, mask, N, 2));
        ck_assert_ok(sm_rng_reseed(rng, 4));
        ck_assert_ok(sm_sampler_impute_spread(s, rng, x, spread, mask, N, 2));
        ck_assert_int_eq(memcmp(x, one, sizeof x), 0);
        for (size_t i = 0; i < N; i++) {
            ck_assert_float_eq(spread[2 * i], 0.0f);
            ck_assert(isnan(spread[2 * i + 1]));
        }
        sm_sampler_free(s);
    }
    /* K = 16 on the exact denoiser (EDM Heun reaches σ_d, see
     * impute_exact_gaussian_every_kind): the averages spread by about
     * σ_d/4, the draws by about σ_d. */
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, grid));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_EDM_HEUN));
    ck_assert_ok(sm_sampler_set_impute_draws(s, K));
    for (size_t i = 0; i < N * 2; i++)
        x[i] = mask[i] ? 1.0f : NAN;
    ck_assert_ok(sm_sampler_impute_spread(s, rng, x, spread, mask, N, 2));
    double m = 0, q = 0, sp = 0;
    for (size_t i = 0; i < N; i++) {
        m += x[2 * i + 1];
        q += (double)x[2 * i + 1] * x[2 * i + 1];
        sp += (double)spread[2 * i + 1] * spread[2 * i + 1];
    }
    m /= N;
    const double std = sqrt(q / N - m * m), draw_std = sqrt(sp / N);
    ck_assert_msg(fabs(m) < 0.03, "mean %g", m);
    ck_assert_msg(fabs(std - sd / 4) < 0.15 * sd / 4, "std of the averages %g, want %g", std,
                  sd / 4);
    ck_assert_msg(fabs(draw_std - sd) < 0.1 * sd, "spread %g, want %g", draw_std, sd);
    sm_sampler_free(s);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* Bad arguments change nothing. */
START_TEST(impute_bad_arguments)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 3));
    sm_net *net = gaussian_edm_net(rng, 1.0);
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 20.0, 0.01, 8, 7.0));
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, grid));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_EDM_HEUN));
    float x[4] = {1.0f, NAN, 2.0f, 3.0f}, keep[4];
    unsigned char mask[4] = {1, 0, 1, 1};
    memcpy(keep, x, sizeof x);
    ck_assert_status(sm_sampler_impute(NULL, rng, x, mask, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute(s, NULL, x, mask, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute(s, rng, NULL, mask, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute(s, rng, x, NULL, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 0, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 2, 3), SM_ERR_SHAPE);
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, SIZE_MAX, 2), SM_ERR_OVERFLOW);
    mask[2] = 2;
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "mask[1][0]"));
    mask[2] = 1;
    x[3] = INFINITY;
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 2, 2), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "x[1][1]"));
    x[3] = NAN;
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 2, 2), SM_ERR_NONFINITE);
    x[3] = 3.0f;
    ck_assert_int_eq(memcmp(x, keep, sizeof x), 0);
    ck_assert_status(sm_sampler_set_resample(NULL, 1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_resample(s, 1001), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_sampler_resample(s), 0);
    ck_assert_uint_eq(sm_sampler_resample(NULL), 0);
    ck_assert_status(sm_sampler_set_impute_draws(NULL, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_impute_draws(s, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_impute_draws(s, 10001), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_set_impute_draws(s, SIZE_MAX), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_sampler_impute_draws(s), 1);
    ck_assert_uint_eq(sm_sampler_impute_draws(NULL), 0);
    float spread[4] = {7, 7, 7, 7};
    ck_assert_status(sm_sampler_impute_spread(s, rng, x, NULL, mask, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute_spread(NULL, rng, x, spread, mask, 2, 2),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute_spread(s, rng, x, spread, NULL, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_sampler_impute_spread(s, rng, x, spread, mask, 2, 3), SM_ERR_SHAPE);
    ck_assert_int_eq(memcmp(x, keep, sizeof x), 0);
    ck_assert_float_eq(spread[1], 7.0f);
    /* A model that diverges: the observed values are still there. */
    float *p = sm_net_params(net);
    p[0] = NAN;
    ck_assert_status(sm_sampler_impute(s, rng, x, mask, 2, 2), SM_ERR_DIVERGED);
    ck_assert_float_eq(x[0], 1.0f);
    ck_assert_float_eq(x[2], 2.0f);
    ck_assert_float_eq(x[3], 3.0f);
    sm_sampler_free(s);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* A network trained on a correlated Gaussian, N(0, [[1, ρ], [ρ, 1]]) with
 * ρ = 0.8: with x₀ = a observed, x₁ given x₀ is N(ρa, 1 − ρ²). Replacement
 * alone falls short of it with a deterministic sampler (EDM Heun, 18
 * levels: mean ≈ 0.44·ρa, sd ≈ 0.8, as a simulation with the exact
 * denoiser gives too); RePaint's jumps close the gap (r = 10: mean
 * ≈ 0.93·ρa, sd ≈ 0.62). */
START_TEST(impute_a_trained_correlated_gaussian)
{
    enum { N_TRAIN = 8000, N = 3000 };
    const double rho = 0.8, csd = sqrt(1.0 - rho * rho);
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 31));
    static float x[N_TRAIN * 2];
    for (size_t i = 0; i < N_TRAIN; i++) {
        const double u = sm_rng_normal(rng), v = sm_rng_normal(rng);
        x[2 * i] = (float)u;
        x[2 * i + 1] = (float)(rho * u + csd * v);
    }
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 64;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    sm_net *net;
    ck_assert_ok(sm_net_new_ex(&net, &o, rng));
    sm_dataset *ds;
    sm_schedule *sched, *grid;
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_dataset_new(&ds, x, N_TRAIN, 2));
    ck_assert_ok(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 3e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, net, sched, opt, 512));
    ck_assert_ok(sm_trainer_set_lr_schedule(tr, 0, 3000, 0.0));
    ck_assert_ok(sm_trainer_fit(tr, ds, 3000, rng, NULL, NULL, NULL));
    ck_assert_ok(sm_schedule_new_karras(&grid, 20.0, 0.002, 18, 7.0));
    static float y[N * 2];
    static unsigned char mask[N * 2];
    const float a[] = {-1.0f, 0.5f, 1.5f};
    sm_sampler *s;
    ck_assert_ok(sm_sampler_new(&s, net, grid));
    ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_EDM_HEUN));
    for (size_t j = 0; j < 3; j++) {
        double err[2];
        for (size_t pass = 0; pass < 2; pass++) {
            const size_t r = pass ? 10 : 0;
            ck_assert_ok(sm_sampler_set_resample(s, r));
            for (size_t i = 0; i < N; i++) {
                y[2 * i] = a[j];
                y[2 * i + 1] = NAN;
                mask[2 * i] = 1;
                mask[2 * i + 1] = 0;
            }
            ck_assert_ok(sm_sampler_impute(s, rng, y, mask, N, 2));
            double m = 0, q = 0;
            for (size_t i = 0; i < N; i++) {
                ck_assert_float_eq(y[2 * i], a[j]);
                m += y[2 * i + 1];
                q += (double)y[2 * i + 1] * y[2 * i + 1];
            }
            m /= N;
            const double sd = sqrt(q / N - m * m), want = rho * a[j];
            err[pass] = fabs(m - want);
            /* The imputation follows the observed value. */
            ck_assert_msg(m * want > 0, "a = %g, r = %zu: mean %g, want the sign of %g",
                          (double)a[j], r, m, want);
            if (r)
                ck_assert_msg(err[1] < 0.15 * fabs(want) + 0.05 && fabs(sd - csd) < 0.1,
                              "a = %g, r = %zu: mean %g sd %g, want %g and %g", (double)a[j],
                              r, m, sd, want, csd);
        }
        ck_assert_msg(err[1] < err[0], "a = %g: resampling gives a mean error of %g, none %g",
                      (double)a[j], err[1], err[0]);
    }
    sm_sampler_free(s);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(grid);
    sm_schedule_free(sched);
    sm_dataset_free(ds);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sampler");
    /* Trains a model for thousands of steps: skipped under valgrind (see
     * test-train.c). */
    TCase *slow = tcase_create("learning");
    tcase_set_tags(slow, "slow");
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, samples_have_the_data_moments);
    tcase_add_test(slow, every_kind_samples_the_data_moments);
    tcase_add_test(slow, impute_a_trained_correlated_gaussian);
    suite_add_tcase(s, slow);
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, update_rules_on_a_constant_score);
    tcase_add_test(tc, kinds_and_corrector_settings);
    tcase_add_test(tc, callback_and_cancel);
    tcase_add_test(tc, one_level_grids);
    tcase_add_test(tc, callback_cannot_reenter_its_sampler);
    tcase_add_test(tc, step_size_forms);
    tcase_add_test(tc, divergence_is_reported_with_last_finite_state);
    tcase_add_test(tc, initial_distributions_and_run_from);
    tcase_add_test(tc, same_seed_same_samples);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, edm_kinds_sample_a_known_gaussian);
    tcase_add_test(tc, per_point_noise_keeps_prefixes);
    tcase_add_test(tc, guidance_combines_conditional_and_unconditional);
    tcase_add_test(tc, guidance_zero_is_conditional);
    tcase_add_test(tc, per_row_contexts_equal_separate_runs);
    tcase_add_test(tc, impute_exact_gaussian_every_kind);
    tcase_add_test(tc, impute_per_point_prefixes);
    tcase_add_test(tc, impute_several_draws);
    tcase_add_test(tc, impute_bad_arguments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
