/* The Gaussian mixture EM of the examples (examples/gmm.c). */
#include <math.h>

#include "testutil.h"
#include "../examples/gmm.h"

START_TEST(recovers_two_components)
{
    const float means[4] = {-3, 0, 3, 1};
    const double stds[2] = {0.5, 0.7};
    const double weights[2] = {0.3, 0.7};
    sm_rng *rng;
    sm_dataset *ds;
    ck_assert_ok(sm_rng_new(&rng, 7));
    ck_assert_ok(sm_toy_gaussian_mixture(&ds, 4000, 2, means, stds, weights, 2, rng));
    gmm g;
    double trace[200];
    size_t iters = 0;
    ck_assert_int_eq(gmm_fit(&g, sm_dataset_data(ds), 4000, 2, 2, 200, 1e-10, 1e-6, rng,
                             trace, &iters),
                     0);
    ck_assert_uint_ge(iters, 2);
    ck_assert_uint_le(iters, 200);
    /* Log-likelihood never decreases (up to rounding). */
    for (size_t i = 1; i < iters; i++)
        ck_assert_msg(trace[i] >= trace[i - 1] - 1e-9, "ll decreased at %zu: %.12f -> %.12f", i,
                      trace[i - 1], trace[i]);
    /* Components come in either order. */
    size_t a = g.mean[0] < g.mean[2] ? 0 : 1, b = 1 - a;
    ck_assert_double_eq_tol(g.mean[a * 2], -3, 0.1);
    ck_assert_double_eq_tol(g.mean[a * 2 + 1], 0, 0.1);
    ck_assert_double_eq_tol(g.mean[b * 2], 3, 0.1);
    ck_assert_double_eq_tol(g.mean[b * 2 + 1], 1, 0.1);
    ck_assert_double_eq_tol(g.weight[a], 0.3, 0.03);
    ck_assert_double_eq_tol(g.weight[b], 0.7, 0.03);
    ck_assert_double_eq_tol(g.cov[a * 4], 0.25, 0.05);
    ck_assert_double_eq_tol(g.cov[b * 4 + 3], 0.49, 0.07);
    ck_assert_double_eq_tol(g.weight[0] + g.weight[1], 1, 1e-9);
    double ll = gmm_mean_loglik(&g, sm_dataset_data(ds), 4000);
    ck_assert_double_eq_tol(ll, trace[iters - 1], 1e-6);

    /* Sampling: the sample mean matches the mixture mean 0.3·m0 + 0.7·m1. */
    float *s = malloc(20000 * 2 * sizeof *s);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(gmm_sample(&g, rng, s, 20000), 0);
    double mx = 0, my = 0;
    for (size_t i = 0; i < 20000; i++)
        mx += s[2 * i], my += s[2 * i + 1];
    ck_assert_double_eq_tol(mx / 20000, 0.3 * -3 + 0.7 * 3, 0.1);
    ck_assert_double_eq_tol(my / 20000, 0.7, 0.05);
    free(s);
    gmm_free(&g);
    sm_dataset_free(ds);
    sm_rng_free(rng);
}
END_TEST

START_TEST(bad_arguments)
{
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 1));
    float x[4] = {0, 0, 1, 1};
    gmm g;
    ck_assert_int_eq(gmm_fit(&g, x, 2, 2, 3, 10, 1e-6, 1e-6, rng, NULL, NULL), -1);
    ck_assert_int_eq(gmm_fit(&g, NULL, 2, 2, 1, 10, 1e-6, 1e-6, rng, NULL, NULL), -1);
    sm_rng_free(rng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gmm");
    TCase *tc = tcase_create("gmm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, recovers_two_components);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
