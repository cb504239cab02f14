/* Log-likelihood under the probability-flow ODE: exact on a constant score,
 * against the closed form of a learned Gaussian (exact trace in 2-D,
 * Hutchinson's estimate in 6-D), bad arguments. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static const double LOG_2PI = 1.8378770664093453;

/* log N(x; 0, var·I) in d dimensions. */
static double log_normal(const float *x, size_t d, double var)
{
    double q = 0;
    for (size_t j = 0; j < d; j++)
        q += (double)x[j] * x[j];
    return -0.5 * (double)d * (LOG_2PI + log(var)) - 0.5 * q / var;
}

START_TEST(constant_score_is_exact)
{
    /* s(x, σ) = c: J = 0 and the trajectory is x − c(σ₁² − σ_L²)/2
     * (Heun integrates the linear drift −σc exactly). */
    sm_rng *rng;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&rng, 1));
    const float c[2] = {0.5f, -1.0f};
    const size_t b_off = sm_test_constant_net(&net, rng, c);
    sm_schedule *grid;
    ck_assert_ok(sm_schedule_new_karras(&grid, 2.0, 0.05, 7, 7.0));
    const float x[6] = {0.3f, -0.2f, 1.5f, 2.0f, -3.0f, 0.0f};
    double lp[3], lh[3];
    ck_assert_ok(sm_log_likelihood(net, grid, x, 3, 2, 1.7, 0, NULL, lp));
    ck_assert_ok(sm_log_likelihood(net, grid, x, 3, 2, 1.7, 3, rng, lh));
    const double shift = 0.5 * (2.0 * 2.0 - 0.05 * 0.05);
    for (int i = 0; i < 3; i++) {
        float y[2] = {x[2 * i] - (float)shift * c[0], x[2 * i + 1] - (float)shift * c[1]};
        double want = log_normal(y, 2, 1.7 * 1.7);
        ck_assert_double_eq_tol(lp[i], want, 1e-4);
        ck_assert_double_eq_tol(lh[i], want, 1e-4);
    }
    /* prior_std ≤ 0: the VE prior N(0, σ₁²I). */
    ck_assert_ok(sm_log_likelihood(net, grid, x, 1, 2, 0.0, 0, NULL, lp));
    float y0[2] = {x[0] - (float)shift * c[0], x[1] - (float)shift * c[1]};
    ck_assert_double_eq_tol(lp[0], log_normal(y0, 2, 4.0), 1e-4);

    /* Bad arguments; the output is not needed to be untouched, the status is. */
    ck_assert_status(sm_log_likelihood(NULL, grid, x, 3, 2, 1, 0, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, NULL, x, 3, 2, 1, 0, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, NULL, 3, 2, 1, 0, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, 0, 2, 1, 0, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 2, 1, 0, NULL, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 3, 1, 0, NULL, lp), SM_ERR_SHAPE);
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 2, NAN, 0, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 2, 1, 4, NULL, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 2, 1, 5000, rng, lp), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_log_likelihood(net, grid, x, SIZE_MAX, 2, 1, 0, NULL, lp),
                     SM_ERR_OVERFLOW);
    float bad[2] = {0.0f, NAN};
    ck_assert_status(sm_log_likelihood(net, grid, bad, 1, 2, 1, 0, NULL, lp), SM_ERR_NONFINITE);
    sm_schedule *one;
    float s1 = 1.0f;
    ck_assert_ok(sm_schedule_new_from_array(&one, &s1, 1));
    ck_assert_status(sm_log_likelihood(net, one, x, 3, 2, 1, 0, NULL, lp), SM_ERR_INVALID_ARG);
    /* NaN parameters: diverged, not a crash. */
    sm_net_params(net)[b_off] = NAN;
    ck_assert_status(sm_log_likelihood(net, grid, x, 3, 2, 1, 0, NULL, lp), SM_ERR_DIVERGED);
    sm_schedule_free(one);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_rng_free(rng);
}
END_TEST

/* Trains on N(0, SD²I) in d dimensions and compares log p_σ_L with the
 * closed form log N(x; 0, (SD² + σ_L²)I) at points of p_σ_L. */
static void gaussian_case(size_t d, size_t probes, double tol_mean, double tol_rms)
{
    const float SD = 0.6f;
    sm_rng *rng;
    sm_net *net;
    sm_schedule *sched, *grid;
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_rng_new(&rng, 21 + d));
    ck_assert_ok(sm_net_new(&net, d, 64, 2, rng));
    ck_assert_ok(sm_schedule_new_geometric(&sched, 2.0, 0.05, 8));
    enum { N = 20000 };
    float *x = malloc(N * d * sizeof(float));
    ck_assert_ok(sm_rng_fill_normal(rng, x, N * d, 0.0f, SD));
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, N, d));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 3e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, net, sched, opt, 256));
    ck_assert_ok(sm_trainer_fit(tr, ds, 3000, rng, NULL, NULL, NULL));
    ck_assert_ok(sm_optim_set_lr(opt, 3e-4));
    ck_assert_ok(sm_trainer_fit(tr, ds, 1500, rng, NULL, NULL, NULL));

    const double s1 = 2.0, sl = 0.05, var_l = (double)SD * SD + sl * sl;
    ck_assert_ok(sm_schedule_new_karras(&grid, s1, sl, 40, 7.0));
    enum { M = 400 };
    float *pts = malloc(M * d * sizeof(float));
    double lp[M];
    ck_assert_ok(sm_rng_fill_normal(rng, pts, M * d, 0.0f, (float)sqrt(var_l)));
    ck_assert_ok(sm_log_likelihood(net, grid, pts, M, d, sqrt((double)SD * SD + s1 * s1), probes,
                                   rng, lp));
    double mean = 0, sq = 0;
    for (size_t i = 0; i < M; i++) {
        double e = lp[i] - log_normal(pts + i * d, d, var_l);
        mean += e / M;
        sq += e * e / M;
    }
    ck_assert_msg(fabs(mean) < tol_mean && sqrt(sq) < tol_rms,
                  "d = %zu, probes %zu: mean error %.4f nats, RMS %.4f (tolerances %g, %g)", d,
                  probes, mean, sqrt(sq), tol_mean, tol_rms);
    free(pts);
    sm_schedule_free(grid);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_dataset_free(ds);
    free(x);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_rng_free(rng);
}

START_TEST(gaussian_exact_trace)
{
    gaussian_case(2, 0, 0.05, 0.15);
}
END_TEST

START_TEST(gaussian_hutchinson)
{
    gaussian_case(6, 4, 0.15, 0.5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("likelihood");
    TCase *tc = tcase_create("likelihood");
    tcase_add_test(tc, constant_score_is_exact);
    suite_add_tcase(s, tc);
    /* Trains networks: skipped under valgrind like the other "slow" cases. */
    TCase *slow = tcase_create("learning");
    tcase_set_tags(slow, "slow");
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, gaussian_exact_trace);
    tcase_add_test(slow, gaussian_hutchinson);
    suite_add_tcase(s, slow);
    return sm_test_run(s);
}
