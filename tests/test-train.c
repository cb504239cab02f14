/* DSM training: the learned score of a Gaussian against its closed form,
 * reproducibility, divergence handling, the callback, bad arguments. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    sm_rng *rng;
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
} rig;

static void rig_make(rig *g, size_t dim, size_t width, size_t depth, double lr, uint64_t seed,
                     size_t batch)
{
    ck_assert_ok(sm_rng_new(&g->rng, seed));
    ck_assert_ok(sm_net_new(&g->net, dim, width, depth, g->rng));
    ck_assert_ok(sm_schedule_new_geometric(&g->sched, 1.0, 0.2, 4));
    ck_assert_ok(sm_optim_new_adam(&g->opt, sm_net_num_params(g->net), lr, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&g->tr, g->net, g->sched, g->opt, batch));
}

static void rig_free(rig *g)
{
    sm_trainer_free(g->tr);
    sm_optim_free(g->opt);
    sm_schedule_free(g->sched);
    sm_net_free(g->net);
    sm_rng_free(g->rng);
}

static sm_dataset *gaussian_data(size_t n, const float *mu, float s, sm_rng *r)
{
    float *x = malloc(n * 2 * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            x[i * 2 + j] = mu[j] + s * (float)sm_rng_normal(r);
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, n, 2));
    free(x);
    return ds;
}

/* Relative RMS error of the learned score of N(mu, s²I) at every level. */
static void check_gaussian_score(rig *g, const float *mu, float s, double tol, const char *what)
{
    enum { M = 1000 };
    static float x[M * 2], y[M * 2];
    for (size_t k = 0; k < sm_schedule_levels(g->sched); k++) {
        float sig = sm_schedule_sigma(g->sched, k);
        double var = (double)s * s + (double)sig * sig, err2 = 0, ref2 = 0;
        for (size_t i = 0; i < M; i++)
            for (int j = 0; j < 2; j++)
                x[i * 2 + j] = mu[j] + (float)(sqrt(var) * sm_rng_normal(g->rng));
        ck_assert_ok(sm_net_forward_sigma(g->net, x, sig, M, 2, y));
        for (size_t i = 0; i < M * 2; i++) {
            double ref = -(x[i] - mu[i % 2]) / var;
            err2 += (y[i] - ref) * (y[i] - ref);
            ref2 += ref * ref;
        }
        double rel = sqrt(err2 / ref2);
        ck_assert_msg(rel < tol, "%s, sigma %g: relative RMS score error %.4f (tolerance %g)",
                      what, (double)sig, rel, tol);
    }
}

START_TEST(ssm_learns_gaussian_score)
{
    /* Sliced score matching reaches the same minimiser as DSM, the score
     * of N(μ, (s²+σ²)I), without being told how the noise was added. */
    const float mu[2] = {0.5f, -0.3f}, s = 0.7f;
    rig g;
    rig_make(&g, 2, 64, 2, 3e-3, 2, 256);
    ck_assert_ok(sm_trainer_set_objective(g.tr, SM_OBJECTIVE_SSM_VR));
    sm_dataset *ds = gaussian_data(20000, mu, s, g.rng);
    double final_loss;
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 5000, g.rng, NULL, NULL, &final_loss));
    ck_assert_ok(sm_optim_set_lr(g.opt, 3e-4));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 2000, g.rng, NULL, NULL, &final_loss));
    /* The optimum is −σ²·E‖∇log p_σ‖²/(2·dim) averaged over the levels:
     * −σ²/(2(s²+σ²)) per element. */
    double opt = 0;
    for (size_t k = 0; k < 4; k++) {
        double sig = sm_schedule_sigma(g.sched, k);
        opt += -0.5 * sig * sig / ((double)s * s + sig * sig) / 4.0;
    }
    ck_assert_msg(fabs(final_loss - opt) < 0.05, "final SSM loss %g, optimum %g", final_loss,
                  opt);
    check_gaussian_score(&g, mu, s, 0.10, "SSM");
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

START_TEST(per_level_losses)
{
    /* Level by level, the DSM loss of a network trained on N(μ, s²I) is
     * near its closed-form optimum: for the exact score, σ·s + ε =
     * (σ²/(s²+σ²))·ε − σ(x − μ)/(s²+σ²), whose mean square per element is
     * s²/(s² + σ²). An untrained network is far from it. */
    const float mu[2] = {0.5f, -0.3f}, s = 0.7f;
    rig g;
    rig_make(&g, 2, 64, 2, 3e-3, 3, 256);
    sm_dataset *ds = gaussian_data(20000, mu, s, g.rng);
    const size_t L = sm_schedule_levels(g.sched);
    double before[4], after[4];
    const float *x = sm_dataset_data(ds);
    ck_assert_ok(sm_dsm_loss_per_level(g.net, g.sched, x, 20000, 2, g.rng, before, L));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 1500, g.rng, NULL, NULL, NULL));
    ck_assert_ok(sm_dsm_loss_per_level(g.net, g.sched, x, 20000, 2, g.rng, after, L));
    for (size_t k = 0; k < L; k++) {
        double sig = sm_schedule_sigma(g.sched, k);
        double opt = (double)s * s / ((double)s * s + sig * sig);
        ck_assert_msg(fabs(after[k] - opt) < 0.03, "level %zu: loss %g, optimum %g", k, after[k],
                      opt);
        ck_assert_msg(before[k] - opt > 0.05, "level %zu untrained: loss %g, optimum %g", k,
                      before[k], opt);
    }
    double wrong[3];
    ck_assert_status(sm_dsm_loss_per_level(g.net, g.sched, x, 10, 2, g.rng, wrong, 3),
                     SM_ERR_SHAPE);
    ck_assert_status(sm_dsm_loss_per_level(g.net, g.sched, x, 10, 2, NULL, after, L),
                     SM_ERR_INVALID_ARG);
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

START_TEST(learns_gaussian_score)
{
    /* Data N(μ, s²I): the DSM optimum is the score of N(μ, (s²+σ²)I),
     * s*(x, σ) = −(x − μ)/(s² + σ²). */
    const float mu[2] = {0.5f, -0.3f}, s = 0.7f;
    rig g;
    rig_make(&g, 2, 64, 2, 3e-3, 1, 256);
    sm_dataset *ds = gaussian_data(20000, mu, s, g.rng);
    double final_loss;
    /* Adam's noise floor, not the model, limits the error: finish with a
     * smaller learning rate. */
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 5000, g.rng, NULL, NULL, &final_loss));
    ck_assert_ok(sm_optim_set_lr(g.opt, 3e-4));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 2000, g.rng, NULL, NULL, &final_loss));
    ck_assert(isfinite(final_loss));
    enum { M = 1000 };
    static float x[M * 2], y[M * 2];
    for (size_t k = 0; k < sm_schedule_levels(g.sched); k++) {
        float sig = sm_schedule_sigma(g.sched, k);
        double var = (double)s * s + (double)sig * sig, err2 = 0, ref2 = 0;
        /* Evaluate where p_σ has its mass. */
        for (size_t i = 0; i < M; i++)
            for (int j = 0; j < 2; j++)
                x[i * 2 + j] = mu[j] + (float)(sqrt(var) * sm_rng_normal(g.rng));
        ck_assert_ok(sm_net_forward_sigma(g.net, x, sig, M, 2, y));
        for (size_t i = 0; i < M * 2; i++) {
            double ref = -(x[i] - mu[i % 2]) / var;
            err2 += (y[i] - ref) * (y[i] - ref);
            ref2 += ref * ref;
        }
        double rel = sqrt(err2 / ref2);
        ck_assert_msg(rel < 0.08, "sigma %g: relative RMS score error %.4f (tolerance 0.08)",
                      (double)sig, rel);
    }
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

START_TEST(same_seed_bit_identical)
{
    const float mu[2] = {0, 0};
    float *p[2];
    size_t np = 0;
    for (int run = 0; run < 2; run++) {
        rig g;
        rig_make(&g, 2, 32, 2, 1e-3, 42, 64);
        sm_dataset *ds = gaussian_data(500, mu, 1.0f, g.rng);
        ck_assert_ok(sm_trainer_fit(g.tr, ds, 50, g.rng, NULL, NULL, NULL));
        np = sm_net_num_params(g.net);
        p[run] = malloc(np * sizeof(float));
        memcpy(p[run], sm_net_params(g.net), np * sizeof(float));
        sm_dataset_free(ds);
        rig_free(&g);
    }
    ck_assert_int_eq(memcmp(p[0], p[1], np * sizeof(float)), 0);
    free(p[0]);
    free(p[1]);
}
END_TEST

START_TEST(diverging_learning_rate_stops_cleanly)
{
    const float mu[2] = {0, 0};
    rig g;
    ck_assert_ok(sm_rng_new(&g.rng, 3));
    ck_assert_ok(sm_net_new(&g.net, 2, 32, 2, g.rng));
    ck_assert_ok(sm_schedule_new_geometric(&g.sched, 1.0, 0.01, 10));
    ck_assert_ok(sm_optim_new_sgd(&g.opt, sm_net_num_params(g.net), 1e6, 0.9, 0));
    ck_assert_ok(sm_trainer_new(&g.tr, g.net, g.sched, g.opt, 64));
    sm_dataset *ds = gaussian_data(500, mu, 1.0f, g.rng);
    ck_assert_status(sm_trainer_fit(g.tr, ds, 1000, g.rng, NULL, NULL, NULL), SM_ERR_DIVERGED);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "at step"));
    size_t np = sm_net_num_params(g.net);
    for (size_t i = 0; i < np; i++)
        ck_assert_msg(isfinite(sm_net_params(g.net)[i]), "parameter %zu is not finite", i);
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

static int stop_at_5(uint64_t step, uint64_t total, double loss, void *ud)
{
    int *calls = ud;
    ck_assert_uint_eq(total, 100);
    ck_assert_uint_eq(step, (uint64_t)(*calls + 1));
    ck_assert(isfinite(loss));
    (*calls)++;
    return step == 5;
}

START_TEST(callback_sees_every_step_and_can_stop)
{
    const float mu[2] = {0, 0};
    rig g;
    rig_make(&g, 2, 16, 1, 1e-3, 4, 32);
    sm_dataset *ds = gaussian_data(100, mu, 1.0f, g.rng);
    int calls = 0;
    double fl;
    ck_assert_status(sm_trainer_fit(g.tr, ds, 100, g.rng, stop_at_5, &calls, &fl),
                     SM_ERR_CANCELLED);
    ck_assert_int_eq(calls, 5);
    ck_assert_uint_eq(sm_optim_steps(g.opt), 5);
    ck_assert(isfinite(fl));
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

/* The fit's callback cannot change or step its own trainer: each such
 * call fails with SM_ERR_STATE and the fit goes on as if it had not been
 * made (same parameters as a fit without them), while reading the network
 * and using other handles from the callback still works. */
typedef struct {
    sm_trainer *tr;
    const sm_dataset *ds;
    sm_rng *rng;
    sm_net *net, *ema;
    const sm_schedule *sched;
    int calls, refused, other;
} fit_reentry;

static int reenter_fit(uint64_t step, uint64_t total, double loss, void *ud)
{
    (void)step, (void)total, (void)loss;
    fit_reentry *r = ud;
    const float x[4] = {0.1f, 0.2f, -0.3f, 0.4f};
    const sm_status st[] = {
        sm_trainer_fit(r->tr, r->ds, 3, r->rng, NULL, NULL, NULL),
        sm_trainer_step(r->tr, x, 2, 2, r->rng, NULL),
        sm_trainer_set_ema(r->tr, r->ema, 0.5),
        sm_trainer_set_objective(r->tr, SM_OBJECTIVE_SSM_VR),
        sm_trainer_set_sigma_sampling(r->tr, SM_SIGMA_LOGNORMAL, 0.0, 1.0),
        sm_trainer_set_lr_schedule(r->tr, 10, 20, 0.5),
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        if (st[i] == SM_ERR_STATE)
            r->refused++;
        else
            r->other++;
    }
    /* Checkpointing the network from the callback is allowed. */
    void *buf = NULL;
    size_t len = 0;
    if (sm_model_save_buffer(r->net, r->sched, NULL, &buf, &len) != SM_OK)
        r->other++;
    sm_free(buf);
    r->calls++;
    return 0;
}

START_TEST(callback_cannot_reenter_its_trainer)
{
    const float mu[2] = {0, 0};
    float *p[2];
    size_t np = 0;
    for (int with_cb = 0; with_cb < 2; with_cb++) {
        rig g;
        rig_make(&g, 2, 16, 1, 1e-3, 6, 32);
        sm_dataset *ds = gaussian_data(100, mu, 1.0f, g.rng);
        sm_net *ema;
        ck_assert_ok(sm_net_clone(g.net, &ema));
        sm_rng *other;
        ck_assert_ok(sm_rng_new(&other, 1));
        fit_reentry r = {g.tr, ds, other, g.net, ema, g.sched, 0, 0, 0};
        ck_assert_ok(sm_trainer_fit(g.tr, ds, 10, g.rng, with_cb ? reenter_fit : NULL, &r,
                                    NULL));
        ck_assert_uint_eq(sm_optim_steps(g.opt), 10);
        if (with_cb) {
            ck_assert_int_eq(r.calls, 10);
            ck_assert_int_eq(r.refused, 10 * 6);
            ck_assert_int_eq(r.other, 0);
            ck_assert_ptr_nonnull(strstr(sm_last_error(), "fitting"));
        }
        np = sm_net_num_params(g.net);
        p[with_cb] = malloc(np * sizeof(float));
        memcpy(p[with_cb], sm_net_params(g.net), np * sizeof(float));
        /* After the fit, the same calls work. */
        ck_assert_ok(sm_trainer_set_ema(g.tr, ema, 0.5));
        ck_assert_ok(sm_trainer_fit(g.tr, ds, 2, g.rng, NULL, NULL, NULL));
        sm_rng_free(other);
        sm_net_free(ema);
        sm_dataset_free(ds);
        rig_free(&g);
    }
    ck_assert_int_eq(memcmp(p[0], p[1], np * sizeof(float)), 0);
    free(p[0]);
    free(p[1]);
}
END_TEST

START_TEST(step_on_caller_batch)
{
    rig g;
    rig_make(&g, 2, 16, 1, 1e-2, 5, 8);
    float x[16] = {0};
    double first = 0, last = 0;
    for (int i = 0; i < 300; i++) {
        /* Data at a single point: the loss must fall as the net learns it. */
        double l;
        ck_assert_ok(sm_trainer_step(g.tr, x, 8, 2, g.rng, &l));
        if (i < 20)
            first += l;
        if (i >= 280)
            last += l;
    }
    ck_assert_double_lt(last, first);
    ck_assert_status(sm_trainer_step(g.tr, x, 9, 2, g.rng, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_step(g.tr, x, 8, 3, g.rng, NULL), SM_ERR_SHAPE);
    x[3] = NAN;
    ck_assert_status(sm_trainer_step(g.tr, x, 8, 2, g.rng, NULL), SM_ERR_NONFINITE);
    rig_free(&g);
}
END_TEST

START_TEST(trainer_keeps_an_average)
{
    const float mu[2] = {0, 0};
    rig g;
    rig_make(&g, 2, 16, 1, 1e-2, 7, 32);
    sm_dataset *ds = gaussian_data(200, mu, 1.0f, g.rng);
    size_t np = sm_net_num_params(g.net);
    sm_net *ema, *frozen, *start;
    ck_assert_ok(sm_net_clone(g.net, &ema));
    ck_assert_ok(sm_net_clone(g.net, &frozen));
    ck_assert_ok(sm_net_clone(g.net, &start));
    /* decay 0: the average is the last iterate; decay 1: the start. */
    ck_assert_ok(sm_trainer_set_ema(g.tr, ema, 0.0));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 20, g.rng, NULL, NULL, NULL));
    ck_assert_int_eq(memcmp(sm_net_params(ema), sm_net_params(g.net), np * sizeof(float)), 0);
    ck_assert_ok(sm_trainer_set_ema(g.tr, frozen, 1.0));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 20, g.rng, NULL, NULL, NULL));
    ck_assert_int_ne(memcmp(sm_net_params(frozen), sm_net_params(g.net), np * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sm_net_params(frozen), sm_net_params(start), np * sizeof(float)), 0);
    /* In between, the average lags: it differs from both. */
    ck_assert_ok(sm_trainer_set_ema(g.tr, ema, 0.9));
    ck_assert_ok(sm_trainer_fit(g.tr, ds, 20, g.rng, NULL, NULL, NULL));
    ck_assert_int_ne(memcmp(sm_net_params(ema), sm_net_params(g.net), np * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(sm_net_params(ema), sm_net_params(frozen), np * sizeof(float)), 0);
    ck_assert_status(sm_trainer_set_ema(g.tr, g.net, 0.9), SM_ERR_SHAPE);
    ck_assert_status(sm_trainer_set_ema(g.tr, ema, -0.1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_ema(NULL, ema, 0.5), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_trainer_set_ema(g.tr, NULL, 0.0));
    sm_net_free(ema);
    sm_net_free(frozen);
    sm_net_free(start);
    sm_dataset_free(ds);
    rig_free(&g);
}
END_TEST

START_TEST(bad_arguments)
{
    rig g;
    rig_make(&g, 2, 8, 1, 1e-3, 6, 4);
    sm_trainer *t = (sm_trainer *)1;
    ck_assert_status(sm_trainer_new(&t, NULL, g.sched, g.opt, 4), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_status(sm_trainer_new(&t, g.net, g.sched, g.opt, 0), SM_ERR_INVALID_ARG);
    sm_optim *small;
    ck_assert_ok(sm_optim_new_adam(&small, 3, 1e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_status(sm_trainer_new(&t, g.net, g.sched, small, 4), SM_ERR_SHAPE);
    sm_optim_free(small);
    float x3[9] = {0};
    sm_dataset *d3;
    ck_assert_ok(sm_dataset_new(&d3, x3, 3, 3));
    ck_assert_status(sm_trainer_fit(g.tr, d3, 10, g.rng, NULL, NULL, NULL), SM_ERR_SHAPE);
    ck_assert_status(sm_trainer_fit(g.tr, NULL, 10, g.rng, NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_fit(g.tr, d3, 10, NULL, NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    double l;
    float x[4] = {0}, s[2] = {0.1f, 0.2f}, e[4] = {0};
    ck_assert_status(sm_dsm_loss(g.net, x, s, e, 2, 3, 0, &l), SM_ERR_SHAPE);
    e[0] = NAN;
    ck_assert_status(sm_dsm_loss(g.net, x, s, e, 2, 2, 0, &l), SM_ERR_NONFINITE);
    ck_assert_status(sm_dsm_loss(NULL, x, s, e, 2, 2, 0, &l), SM_ERR_INVALID_ARG);
    sm_trainer_free(NULL);
    sm_dataset_free(d3);
    rig_free(&g);
}
END_TEST

/* EDM networks: log-normal σ by default, σ_data estimated by the first
 * fit (and set on the average), refused by a bare step while unknown; the
 * learning-rate schedule sets the optimizer's rate step by step. */
START_TEST(edm_training_and_lr_schedule)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 4));
    enum { N = 300 };
    float x[N * 2];
    for (size_t i = 0; i < N; i++) {
        x[2 * i] = 3.0f * (float)sm_rng_normal(rng);
        x[2 * i + 1] = 1.0f + 0.5f * (float)sm_rng_normal(rng);
    }
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, N, 2));
    double sd;
    ck_assert_ok(sm_dataset_sigma_data(ds, &sd));
    double m0 = 0, m1 = 0, v = 0;
    for (size_t i = 0; i < N; i++) {
        m0 += x[2 * i];
        m1 += x[2 * i + 1];
    }
    m0 /= N;
    m1 /= N;
    for (size_t i = 0; i < N; i++)
        v += (x[2 * i] - m0) * (x[2 * i] - m0) + (x[2 * i + 1] - m1) * (x[2 * i + 1] - m1);
    ck_assert_double_eq_tol(sd, sqrt(v / (2.0 * N)), 1e-9 * sd);

    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 16;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    sm_net *net, *ema;
    ck_assert_ok(sm_net_new_ex(&net, &o, rng));
    ck_assert_ok(sm_net_clone(net, &ema));
    sm_schedule *sched;
    ck_assert_ok(sm_schedule_new_geometric(&sched, 10.0, 0.01, 5));
    sm_optim *opt;
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 1e-3, 0.9, 0.999, 1e-8, 0));
    sm_trainer *tr;
    ck_assert_ok(sm_trainer_new(&tr, net, sched, opt, 32));
    ck_assert_int_eq(sm_trainer_sigma_sampling(tr), SM_SIGMA_LOGNORMAL);
    ck_assert_ok(sm_trainer_set_ema(tr, ema, 0.9));
    ck_assert_status(sm_trainer_step(tr, x, 32, 2, rng, NULL), SM_ERR_STATE);
    /* Warm-up over 10 steps, cosine to 0.1 of the rate at step 30. */
    ck_assert_ok(sm_trainer_set_lr_schedule(tr, 10, 30, 0.1));
    ck_assert_ok(sm_trainer_fit(tr, ds, 5, rng, NULL, NULL, NULL));
    ck_assert_double_eq_tol(sm_net_sigma_data(net), sd, 1e-6 * sd);
    ck_assert_double_eq_tol(sm_net_sigma_data(ema), sd, 1e-6 * sd);
    ck_assert_double_eq_tol(sm_optim_lr(opt), 1e-3 * 5 / 10, 1e-12);
    ck_assert_ok(sm_trainer_fit(tr, ds, 15, rng, NULL, NULL, NULL)); /* step 20: halfway */
    ck_assert_double_eq_tol(sm_optim_lr(opt), 1e-3 * (0.1 + 0.9 * 0.5), 1e-9);
    ck_assert_ok(sm_trainer_fit(tr, ds, 20, rng, NULL, NULL, NULL)); /* past the end */
    ck_assert_double_eq_tol(sm_optim_lr(opt), 1e-4, 1e-12);
    /* Off again: the base rate comes back. */
    ck_assert_ok(sm_trainer_set_lr_schedule(tr, 0, 0, 1.0));
    ck_assert_double_eq_tol(sm_optim_lr(opt), 1e-3, 1e-12);
    /* Log-normal draws are finite and train; the ladder is still there. */
    double loss;
    ck_assert_ok(sm_trainer_step(tr, x, 32, 2, rng, &loss));
    ck_assert(isfinite(loss));
    ck_assert_ok(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LADDER, 0, 0));
    ck_assert_int_eq(sm_trainer_sigma_sampling(tr), SM_SIGMA_LADDER);
    ck_assert_ok(sm_trainer_step(tr, x, 32, 2, rng, &loss));
    /* Bad arguments. */
    ck_assert_status(sm_trainer_set_sigma_sampling(tr, (sm_sigma_sampling)5, 0, 1),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, NAN, 1),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, 0, -1),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_sigma_sampling(NULL, SM_SIGMA_LOGNORMAL, 0, 1),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_lr_schedule(tr, 10, 5, 0.1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_lr_schedule(tr, 0, 5, 1.5), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_lr_schedule(tr, 0, 5, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_trainer_set_lr_schedule(NULL, 0, 5, 0.5), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(sm_trainer_sigma_sampling(NULL), SM_SIGMA_LADDER);
    /* A data set without spread has no σ_data. */
    float flat[6] = {1, 2, 1, 2, 1, 2};
    sm_dataset *fl;
    ck_assert_ok(sm_dataset_new(&fl, flat, 3, 2));
    ck_assert_status(sm_dataset_sigma_data(fl, &sd), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_sigma_data(NULL, &sd), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_sigma_data(fl, NULL), SM_ERR_INVALID_ARG);
    sm_dataset_free(fl);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(ds);
    sm_rng_free(rng);
}
END_TEST


/* ---- networks with a context ------------------------------------------- */

/* 1-D data: label 0 around −2, label 1 around +2 (std 0.1), n points. */
static sm_dataset *two_classes(size_t n, sm_rng *rng)
{
    float *x = malloc(n * sizeof(float));
    int32_t *lab = malloc(n * sizeof(int32_t));
    ck_assert_ok(sm_rng_fill_normal(rng, x, n, 0, 0.1f));
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 2);
        x[i] += lab[i] ? 2.0f : -2.0f;
    }
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, n, 1));
    ck_assert_ok(sm_dataset_set_labels(ds, lab, n));
    free(x);
    free(lab);
    return ds;
}

/* Trains a conditional EDM network (context width 2) on ds, with the
 * context normalization cnorm (2 shifts, 2 scales) if not NULL; returns it. */
static sm_net *fit_cond_norm(const sm_dataset *ds, uint64_t seed, double dropout,
                             uint64_t steps, const float *cnorm)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, seed));
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 1;
    o.width = 32;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    o.context_dim = 2;
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_net_new_ex(&net, &o, rng));
    if (cnorm)
        ck_assert_ok(sm_net_set_context_normalization(net, cnorm, cnorm + 2, 2));
    ck_assert_ok(sm_schedule_new_geometric(&sched, 1.0, 0.01, 4));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 3e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, net, sched, opt, 128));
    ck_assert_ok(sm_trainer_set_context_dropout(tr, dropout));
    ck_assert_ok(sm_trainer_fit(tr, ds, steps, rng, NULL, NULL, NULL));
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_rng_free(rng);
    return net;
}

static sm_net *fit_cond(const sm_dataset *ds, uint64_t seed, double dropout, uint64_t steps)
{
    return fit_cond_norm(ds, seed, dropout, steps, NULL);
}

/* A context normalization is applied wherever contexts enter: training on
 * raw contexts with it gives the weights, bit for bit, of training on the
 * normalized contexts without it (dropped rows keep the null context), and
 * guided sampling and imputation from raw contexts give the same points. */
START_TEST(cond_context_normalization_equals_normalized_contexts)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 2));
    sm_dataset *raw = two_classes(200, rng);
    sm_dataset *pre;
    const float cnorm[4] = {30.0f, -4.0f, 12.0f, 0.5f}; /* shifts, scales */
    float *ctx = malloc(200 * 2 * sizeof(float)), *nctx = malloc(200 * 2 * sizeof(float));
    for (size_t i = 0; i < 200; i++) {
        const int32_t l = sm_dataset_labels(raw)[i];
        ctx[2 * i] = l ? 40.0f : 20.0f;
        ctx[2 * i + 1] = l ? -3.5f : -4.5f;
        for (int j = 0; j < 2; j++)
            nctx[2 * i + j] = (ctx[2 * i + j] - cnorm[j]) / cnorm[2 + j];
    }
    ck_assert_ok(sm_dataset_clone(raw, &pre));
    ck_assert_ok(sm_dataset_set_context(raw, ctx, 200, 2));
    ck_assert_ok(sm_dataset_set_context(pre, nctx, 200, 2));
    sm_net *a = fit_cond_norm(raw, 3, 0.3, 30, cnorm);
    sm_net *b = fit_cond(pre, 3, 0.3, 30);
    sm_net *c = fit_cond(raw, 3, 0.3, 30);
    const size_t np = sm_net_num_params(a);
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(b), np * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(sm_net_params(a), sm_net_params(c), np * sizeof(float)), 0);
    /* Guided sampling with per-row contexts. */
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 5.0, 0.01, 6, 7.0));
    enum { N = 8 };
    float xa[N], xb[N], ma[N], mb[N];
    sm_net *nets[2] = {a, b};
    float *outs[2] = {xa, xb}, *imps[2] = {ma, mb};
    const float *cs[2] = {ctx, nctx};
    for (int k = 0; k < 2; k++) {
        sm_sampler *s;
        sm_rng *r;
        ck_assert_ok(sm_sampler_new(&s, nets[k], grid));
        ck_assert_ok(sm_sampler_set_kind(s, SM_SAMPLER_EDM_HEUN));
        ck_assert_ok(sm_sampler_set_context(s, cs[k], N, 2));
        ck_assert_ok(sm_sampler_set_guidance(s, 1.5, 0.0, INFINITY));
        ck_assert_ok(sm_rng_new(&r, 9));
        ck_assert_ok(sm_sampler_run(s, r, outs[k], N, 1));
        /* Imputation of every entry (1-D data: all missing). */
        unsigned char miss[N];
        memset(miss, 0, sizeof miss);
        memset(imps[k], 0, N * sizeof(float));
        ck_assert_ok(sm_sampler_impute(s, r, imps[k], miss, N, 1));
        sm_rng_free(r);
        sm_sampler_free(s);
    }
    ck_assert_int_eq(memcmp(xa, xb, sizeof xa), 0);
    ck_assert_int_eq(memcmp(ma, mb, sizeof ma), 0);
    sm_schedule_free(grid);
    sm_net_free(a);
    sm_net_free(b);
    sm_net_free(c);
    free(ctx);
    free(nctx);
    sm_dataset_free(pre);
    sm_dataset_free(raw);
    sm_rng_free(rng);
}
END_TEST

/* One-hot contexts from labels equal the same contexts given explicitly;
 * the same seed repeats; the dropout draws change the result; copies of
 * the data set keep the contexts with their rows. */
START_TEST(cond_fit_contexts_and_labels)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 1));
    sm_dataset *by_label = two_classes(200, rng);
    sm_dataset *by_ctx;
    ck_assert_ok(sm_dataset_clone(by_label, &by_ctx));
    float *ctx = malloc(200 * 2 * sizeof(float));
    ck_assert_ok(sm_labels_one_hot(sm_dataset_labels(by_ctx), 200, 2, ctx));
    ck_assert_ok(sm_dataset_set_context(by_ctx, ctx, 200, 2));
    ck_assert_ok(sm_dataset_set_labels(by_ctx, NULL, 0));
    sm_dataset *copy;
    ck_assert_ok(sm_dataset_clone(by_ctx, &copy));
    ck_assert_uint_eq(sm_dataset_context_dim(copy), 2);
    ck_assert_int_eq(memcmp(sm_dataset_context(copy), ctx, 200 * 2 * sizeof(float)), 0);
    ck_assert_ok(sm_dataset_standardize(copy)); /* points only */
    ck_assert_int_eq(memcmp(sm_dataset_context(copy), ctx, 200 * 2 * sizeof(float)), 0);

    sm_net *a = fit_cond(by_label, 3, 0.1, 20);
    sm_net *b = fit_cond(by_ctx, 3, 0.1, 20);
    sm_net *c = fit_cond(by_ctx, 3, 0.5, 20);
    const size_t np = sm_net_num_params(a);
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(b), np * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(sm_net_params(a), sm_net_params(c), np * sizeof(float)), 0);
    sm_net_free(a);
    sm_net_free(b);
    sm_net_free(c);
    free(ctx);
    sm_dataset_free(copy);
    sm_dataset_free(by_ctx);
    sm_dataset_free(by_label);
    sm_rng_free(rng);
}
END_TEST

/* The network learns both conditionals and, through the dropout, the
 * unconditional mixture: at x = 0 and σ = 1 the denoiser points to −2 for
 * label 0, to +2 for label 1, and stays between them without a context. */
START_TEST(cond_fit_learns_the_condition)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 2));
    sm_dataset *ds = two_classes(1000, rng);
    sm_net *net = fit_cond(ds, 4, 0.2, 400);
    const float x[3] = {0, 0, 0}, s[3] = {1, 1, 1}, ctx[6] = {1, 0, 0, 1, 0, 0};
    float d[3], u;
    ck_assert_ok(sm_net_denoise_cond(net, x, s, ctx, 2, 1, 2, d));
    ck_assert_ok(sm_net_denoise(net, x, s, 1, 1, &u));
    ck_assert_msg(d[0] < -1.0f && d[1] > 1.0f && fabsf(u) < 1.0f,
                  "D(0, 1, label 0) = %g, D(0, 1, label 1) = %g, D(0, 1) = %g", (double)d[0],
                  (double)d[1], (double)u);
    sm_net_free(net);
    sm_dataset_free(ds);
    sm_rng_free(rng);
}
END_TEST

/* Gradient reduction (sm_trainer_set_grad_reduce()) and batch slices
 * (sm_trainer_set_shard()). */
typedef struct {
    size_t np;
    int calls, fail_at; /* fail_at: the gradient call (1-based) that fails; 0 never */
    int bad_sizes;
    double last_loss;
    sm_trainer *tr; /* when set: try to re-enter it */
    int refused, other;
} reduce_log;

static int log_reduce(void *ud, float *buf, size_t n)
{
    reduce_log *r = ud;
    r->calls++;
    const int grad_call = r->calls % 2 == 1;
    if (n != (grad_call ? r->np : 1))
        r->bad_sizes++;
    if (!grad_call)
        r->last_loss = buf[0];
    if (r->tr) {
        const float x[4] = {0.1f, 0.2f, -0.3f, 0.4f};
        sm_rng *other = NULL;
        ck_assert_ok(sm_rng_new(&other, 3));
        const sm_status st[] = {
            sm_trainer_step(r->tr, x, 2, 2, other, NULL),
            sm_trainer_set_grad_reduce(r->tr, NULL, NULL),
            sm_trainer_set_shard(r->tr, 0, 2),
            sm_trainer_set_objective(r->tr, SM_OBJECTIVE_SSM_VR),
        };
        sm_rng_free(other);
        for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
            if (st[i] == SM_ERR_STATE)
                r->refused++;
            else
                r->other++;
        }
    }
    return grad_call && r->fail_at && (r->calls + 1) / 2 == r->fail_at ? 7 : 0;
}

/* A reduction that leaves the buffers alone and the slice 0 of 1 change
 * nothing: the same bits as training alone; the callback sees the gradient
 * then the loss in every step, and the loss it saw is the one reported. */
START_TEST(grad_reduce_identity_same_bits)
{
    const float mu[2] = {0.5f, -1};
    float *p[2];
    size_t np = 0;
    for (int hook = 0; hook < 2; hook++) {
        rig g;
        rig_make(&g, 2, 16, 2, 1e-3, 8, 32);
        sm_dataset *ds = gaussian_data(200, mu, 1.0f, g.rng);
        np = sm_net_num_params(g.net);
        reduce_log r = {.np = np};
        if (hook) {
            ck_assert_ok(sm_trainer_set_grad_reduce(g.tr, log_reduce, &r));
            ck_assert_ok(sm_trainer_set_shard(g.tr, 0, 1));
        }
        ck_assert_ok(sm_trainer_fit(g.tr, ds, 20, g.rng, NULL, NULL, NULL));
        double loss = 0;
        const float x[6] = {0.1f, 0.2f, -0.3f, 0.4f, 1.0f, -1.0f};
        ck_assert_ok(sm_trainer_step(g.tr, x, 3, 2, g.rng, &loss));
        if (hook) {
            ck_assert_int_eq(r.calls, 2 * 21);
            ck_assert_int_eq(r.bad_sizes, 0);
            ck_assert(loss == r.last_loss);
        }
        p[hook] = malloc(np * sizeof(float));
        memcpy(p[hook], sm_net_params(g.net), np * sizeof(float));
        sm_dataset_free(ds);
        rig_free(&g);
    }
    ck_assert_int_eq(memcmp(p[0], p[1], np * sizeof(float)), 0);
    free(p[0]);
    free(p[1]);
}
END_TEST

/* A failing reduction fails the step with SM_ERR_CANCELLED and leaves the
 * parameters, the optimizer and the average as after the step before:
 * those of a fit that stopped one step earlier. */
START_TEST(grad_reduce_failure_keeps_state)
{
    const float mu[2] = {0, 0};
    float *p[2], *e[2];
    size_t np = 0;
    for (int fail = 0; fail < 2; fail++) {
        rig g;
        rig_make(&g, 2, 16, 1, 1e-3, 9, 32);
        sm_dataset *ds = gaussian_data(100, mu, 1.0f, g.rng);
        np = sm_net_num_params(g.net);
        sm_net *ema;
        ck_assert_ok(sm_net_clone(g.net, &ema));
        ck_assert_ok(sm_trainer_set_ema(g.tr, ema, 0.9));
        reduce_log r = {.np = np, .fail_at = 5};
        if (fail) {
            ck_assert_ok(sm_trainer_set_grad_reduce(g.tr, log_reduce, &r));
            double fl = 0;
            ck_assert_status(sm_trainer_fit(g.tr, ds, 10, g.rng, NULL, NULL, &fl),
                             SM_ERR_CANCELLED);
            ck_assert_ptr_nonnull(strstr(sm_last_error(), "reduction"));
            ck_assert(isfinite(fl));
        } else {
            ck_assert_ok(sm_trainer_fit(g.tr, ds, 4, g.rng, NULL, NULL, NULL));
        }
        ck_assert_uint_eq(sm_optim_steps(g.opt), 4);
        p[fail] = malloc(np * sizeof(float));
        e[fail] = malloc(np * sizeof(float));
        memcpy(p[fail], sm_net_params(g.net), np * sizeof(float));
        memcpy(e[fail], sm_net_params(ema), np * sizeof(float));
        /* The trainer goes on afterwards. */
        r.fail_at = 0;
        ck_assert_ok(sm_trainer_fit(g.tr, ds, 2, g.rng, NULL, NULL, NULL));
        ck_assert_uint_eq(sm_optim_steps(g.opt), 6);
        sm_net_free(ema);
        sm_dataset_free(ds);
        rig_free(&g);
    }
    ck_assert_int_eq(memcmp(p[0], p[1], np * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(e[0], e[1], np * sizeof(float)), 0);
    for (int i = 0; i < 2; i++)
        free(p[i]), free(e[i]);
}
END_TEST

/* The reduction callback cannot change or step its trainer. */
START_TEST(grad_reduce_cannot_reenter)
{
    rig g;
    rig_make(&g, 2, 16, 1, 1e-3, 10, 8);
    reduce_log r = {.np = sm_net_num_params(g.net), .tr = g.tr};
    ck_assert_ok(sm_trainer_set_grad_reduce(g.tr, log_reduce, &r));
    const float x[8] = {0.1f, 0.2f, -0.3f, 0.4f, 1.0f, -1.0f, 0.5f, 0.5f};
    ck_assert_ok(sm_trainer_step(g.tr, x, 4, 2, g.rng, NULL));
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(r.refused, 2 * 4);
    ck_assert_int_eq(r.other, 0);
    ck_assert_uint_eq(sm_optim_steps(g.opt), 1);
    /* Afterwards the setters work again. */
    ck_assert_ok(sm_trainer_set_grad_reduce(g.tr, NULL, NULL));
    ck_assert_ok(sm_trainer_step(g.tr, x, 4, 2, g.rng, NULL));
    ck_assert_int_eq(r.calls, 2);
    rig_free(&g);
}
END_TEST

/* Ranks simulated by threads in one process: each thread trains its own
 * copy on its slice of the same batches, a barrier-based reduction averages
 * in rank order, and the result is one trainer's on the whole batch up to
 * float summation order (see tests/test-mpi.c for the tolerance). Three
 * ranks on 32 rows give unequal slices (10, 11, 11), weighted by share. */
enum { SIM_MAX_RANKS = 3 };
typedef struct {
    pthread_barrier_t barrier;
    int ranks;
    size_t np;
    float *bufs[SIM_MAX_RANKS];
    float *mean;
    sm_objective objective;
    const sm_dataset *ds;
    float *params[SIM_MAX_RANKS];
    float *local[SIM_MAX_RANKS]; /* each rank's first local gradient */
    double loss[SIM_MAX_RANKS];
    sm_status st[SIM_MAX_RANKS];
} sim_world;

typedef struct {
    sim_world *w;
    int rank, calls;
} sim_rank;

static int sim_reduce(void *ud, float *buf, size_t n)
{
    sim_rank *me = ud;
    sim_world *w = me->w;
    if (me->calls++ == 0)
        memcpy(w->local[me->rank], buf, n * sizeof(float));
    memcpy(w->bufs[me->rank], buf, n * sizeof(float));
    pthread_barrier_wait(&w->barrier);
    if (me->rank == 0)
        for (size_t i = 0; i < n; i++) {
            float sum = 0.0f;
            for (int r = 0; r < w->ranks; r++)
                sum += w->bufs[r][i];
            w->mean[i] = sum / (float)w->ranks;
        }
    pthread_barrier_wait(&w->barrier);
    memcpy(buf, w->mean, n * sizeof(float));
    pthread_barrier_wait(&w->barrier); /* mean is read before it is rewritten */
    return 0;
}

static void sim_train(sim_world *w, int rank, int parallel, double *loss, float *out)
{
    sim_rank me = {w, rank, 0};
    rig g;
    rig_make(&g, 2, 32, 2, 1e-3, 12, 32);
    ck_assert_ok(sm_trainer_set_objective(g.tr, w->objective));
    if (parallel) {
        ck_assert_ok(sm_trainer_set_grad_reduce(g.tr, sim_reduce, &me));
        ck_assert_ok(sm_trainer_set_shard(g.tr, (size_t)rank, (size_t)w->ranks));
    }
    sm_status st = sm_trainer_fit(g.tr, w->ds, 40, g.rng, NULL, NULL, loss);
    if (parallel)
        w->st[rank] = st;
    else
        ck_assert_ok(st);
    memcpy(out, sm_net_params(g.net), w->np * sizeof(float));
    rig_free(&g);
}

static void *sim_thread(void *arg)
{
    sim_rank *me = arg;
    sim_train(me->w, me->rank, 1, &me->w->loss[me->rank], me->w->params[me->rank]);
    return NULL;
}

START_TEST(shards_in_threads_match_one_process)
{
    const float mu[2] = {1, -1};
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 5));
    sm_dataset *ds = gaussian_data(300, mu, 0.7f, rng);
    sm_net *probe;
    ck_assert_ok(sm_net_new(&probe, 2, 32, 2, rng));
    const size_t np = sm_net_num_params(probe);
    sm_net_free(probe);
    const struct {
        int ranks;
        sm_objective objective;
    } cases[] = {{2, SM_OBJECTIVE_DSM}, {3, SM_OBJECTIVE_DSM}, {2, SM_OBJECTIVE_SSM_VR}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sim_world w = {.ranks = cases[c].ranks, .np = np, .objective = cases[c].objective,
                       .ds = ds};
        pthread_barrier_init(&w.barrier, NULL, (unsigned)w.ranks);
        w.mean = malloc(np * sizeof(float));
        for (int r = 0; r < w.ranks; r++) {
            w.bufs[r] = malloc(np * sizeof(float));
            w.params[r] = malloc(np * sizeof(float));
            w.local[r] = malloc(np * sizeof(float));
        }
        pthread_t th[SIM_MAX_RANKS];
        sim_rank ranks[SIM_MAX_RANKS];
        for (int r = 0; r < w.ranks; r++) {
            ranks[r] = (sim_rank){&w, r, 0};
            ck_assert_int_eq(pthread_create(&th[r], NULL, sim_thread, &ranks[r]), 0);
        }
        for (int r = 0; r < w.ranks; r++)
            pthread_join(th[r], NULL);
        float *one = malloc(np * sizeof(float));
        double one_loss = 0;
        sim_train(&w, 0, 0, &one_loss, one);
        double maxd = 0, moved = 0;
        for (size_t i = 0; i < np; i++) {
            double d = fabs((double)one[i] - (double)w.params[0][i]);
            maxd = d > maxd ? d : maxd;
        }
        for (int r = 0; r < w.ranks; r++) {
            ck_assert_ok(w.st[r]);
            /* Every rank holds the same parameters and reports the same loss. */
            ck_assert_int_eq(memcmp(w.params[r], w.params[0], np * sizeof(float)), 0);
            ck_assert(w.loss[r] == w.loss[0]);
            if (r > 0) /* and each computed its own slice */
                ck_assert_int_ne(memcmp(w.local[r], w.local[0], np * sizeof(float)), 0);
        }
        ck_assert_msg(maxd <= 1e-5, "%d ranks, objective %d: parameters differ by %g", w.ranks,
                      (int)w.objective, maxd);
        ck_assert_msg(fabs(one_loss - w.loss[0]) <= 1e-4, "losses %g and %g", one_loss,
                      w.loss[0]);
        /* The runs trained: differences between slices would show. */
        rig g0;
        rig_make(&g0, 2, 32, 2, 1e-3, 12, 32);
        for (size_t i = 0; i < np; i++)
            moved = fmax(moved, fabs((double)one[i] - (double)sm_net_params(g0.net)[i]));
        rig_free(&g0);
        ck_assert_msg(moved > 1e-2, "the parameters moved only %g", moved);
        free(one);
        for (int r = 0; r < w.ranks; r++)
            free(w.bufs[r]), free(w.params[r]), free(w.local[r]);
        free(w.mean);
        pthread_barrier_destroy(&w.barrier);
    }
    sm_dataset_free(ds);
    sm_rng_free(rng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    /* Statistical tests that train for thousands of steps carry the tag
     * "slow"; the valgrind run skips them (CK_EXCLUDE_TAGS=slow) because
     * they would take tens of minutes there, while the sanitizer run and the
     * plain run execute them. */
    TCase *slow = tcase_create("learning");
    tcase_set_tags(slow, "slow");
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, learns_gaussian_score);
    tcase_add_test(slow, ssm_learns_gaussian_score);
    tcase_add_test(slow, per_level_losses);
    suite_add_tcase(s, slow);
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_seed_bit_identical);
    tcase_add_test(tc, diverging_learning_rate_stops_cleanly);
    tcase_add_test(tc, callback_sees_every_step_and_can_stop);
    tcase_add_test(tc, callback_cannot_reenter_its_trainer);
    tcase_add_test(tc, step_on_caller_batch);
    tcase_add_test(tc, trainer_keeps_an_average);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, edm_training_and_lr_schedule);
    tcase_add_test(tc, cond_fit_contexts_and_labels);
    tcase_add_test(tc, cond_context_normalization_equals_normalized_contexts);
    tcase_add_test(tc, cond_fit_learns_the_condition);
    tcase_add_test(tc, grad_reduce_identity_same_bits);
    tcase_add_test(tc, grad_reduce_failure_keeps_state);
    tcase_add_test(tc, grad_reduce_cannot_reenter);
    tcase_add_test(tc, shards_in_threads_match_one_process);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
