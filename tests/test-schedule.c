/* Noise ladders: geometric, linear, from an array, validation, σ₁ helper. */
#include <math.h>
#include <string.h>

#include "testutil.h"

START_TEST(geometric_lab_ladder)
{
    sm_schedule *s;
    ck_assert_ok(sm_schedule_new_geometric(&s, 1.0, 0.01, 10));
    ck_assert_uint_eq(sm_schedule_levels(s), 10);
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 0), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 9), 0.01f, 1e-8f);
    /* Constant ratio (0.01)^(1/9) between neighbours. */
    double q = pow(0.01, 1.0 / 9.0);
    for (size_t i = 1; i < 10; i++)
        ck_assert_double_eq_tol(sm_schedule_sigma(s, i) / sm_schedule_sigma(s, i - 1), q, 1e-6);
    ck_assert_float_eq(sm_schedule_sigma(s, 10), 0.0f);
    float all[10];
    ck_assert_ok(sm_schedule_get_sigmas(s, all, 10));
    ck_assert_float_eq(all[3], sm_schedule_sigma(s, 3));
    ck_assert_status(sm_schedule_get_sigmas(s, all, 9), SM_ERR_SHAPE);
    sm_schedule_free(s);
}
END_TEST

START_TEST(linear_ladder)
{
    sm_schedule *s;
    ck_assert_ok(sm_schedule_new_linear(&s, 1.0, 0.1, 4));
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 1), 0.7f, 1e-7f);
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 2), 0.4f, 1e-7f);
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 3), 0.1f, 1e-7f);
    sm_schedule_free(s);
}
END_TEST

START_TEST(karras_ladder)
{
    sm_schedule *s;
    const double smax = 1.0, smin = 0.01, rho = 7.0;
    ck_assert_ok(sm_schedule_new_karras(&s, smax, smin, 6, rho));
    ck_assert_uint_eq(sm_schedule_levels(s), 6);
    ck_assert_float_eq(sm_schedule_sigma(s, 0), 1.0f);
    ck_assert_float_eq(sm_schedule_sigma(s, 5), 0.01f);
    /* σ^(1/ρ) is evenly spaced. */
    double a = pow(smax, 1 / rho), b = pow(smin, 1 / rho);
    for (size_t i = 0; i < 6; i++)
        ck_assert_double_eq_tol(pow(sm_schedule_sigma(s, i), 1 / rho), a + (b - a) * (double)i / 5,
                                1e-6);
    /* Steps shrink towards σ_min, faster than a geometric ladder's. */
    ck_assert_float_lt(sm_schedule_sigma(s, 5) / sm_schedule_sigma(s, 4),
                       sm_schedule_sigma(s, 1) / sm_schedule_sigma(s, 0));
    sm_schedule_free(s);
    /* ρ = 1 is the linear ladder. */
    ck_assert_ok(sm_schedule_new_karras(&s, 1.0, 0.1, 4, 1.0));
    ck_assert_float_eq_tol(sm_schedule_sigma(s, 1), 0.7f, 1e-6f);
    sm_schedule_free(s);
    s = (sm_schedule *)&s;
    ck_assert_status(sm_schedule_new_karras(&s, 1.0, 0.01, 10, 0.5), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_status(sm_schedule_new_karras(&s, 1.0, 0.01, 10, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_karras(NULL, 1.0, 0.01, 10, 7.0), SM_ERR_INVALID_ARG);
}
END_TEST

START_TEST(from_array_validates)
{
    sm_schedule *s = (sm_schedule *)1;
    float ok[3] = {2.0f, 1.0f, 0.5f};
    ck_assert_ok(sm_schedule_new_from_array(&s, ok, 3));
    ok[0] = 9;
    ck_assert_float_eq(sm_schedule_sigma(s, 0), 2.0f);
    sm_schedule_free(s);
    float flat[3] = {1.0f, 1.0f, 0.5f};
    ck_assert_status(sm_schedule_new_from_array(&s, flat, 3), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sigma[1]"));
    float rising[2] = {0.5f, 1.0f};
    ck_assert_status(sm_schedule_new_from_array(&s, rising, 2), SM_ERR_INVALID_ARG);
    float neg[2] = {1.0f, -0.5f};
    ck_assert_status(sm_schedule_new_from_array(&s, neg, 2), SM_ERR_INVALID_ARG);
    float nan[2] = {NAN, 0.5f};
    ck_assert_status(sm_schedule_new_from_array(&s, nan, 2), SM_ERR_NONFINITE);
    ck_assert_status(sm_schedule_new_from_array(&s, ok, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_from_array(&s, NULL, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_geometric(&s, 0.01, 1.0, 10), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_geometric(&s, 1.0, 0.0, 10), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_geometric(&s, 1.0, 0.5, 1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_geometric(&s, INFINITY, 0.5, 3), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_schedule_new_linear(NULL, 1.0, 0.5, 3), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_schedule_levels(NULL), 0);
    sm_schedule_free(NULL);
}
END_TEST

START_TEST(suggest_sigma_max)
{
    float pts[8] = {0, 0, 3, 4, 1, 1, -1, 0};
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, pts, 4, 2));
    double smax = 0;
    ck_assert_ok(sm_schedule_suggest_sigma_max(ds, NULL, &smax));
    ck_assert_double_eq_tol(smax, sqrt(16.0 + 16.0), 1e-6); /* (-1,0) to (3,4) */
    ck_assert_status(sm_schedule_suggest_sigma_max(NULL, NULL, &smax), SM_ERR_INVALID_ARG);
    sm_dataset_free(ds);
}
END_TEST

/* No pair of distinct points, no distance: an error that says why, and
 * the output left alone (it used to be SM_OK with 0). */
START_TEST(suggest_sigma_max_needs_two_distinct_points)
{
    const float one[2] = {1.5f, -2.0f};
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, one, 1, 2));
    double smax = 7.0;
    ck_assert_status(sm_schedule_suggest_sigma_max(ds, NULL, &smax), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "1 point"));
    ck_assert_double_eq(smax, 7.0);
    sm_dataset_free(ds);
    /* Identical points, exactly (n <= 2000) and through the subsample. */
    sm_rng *rng;
    ck_assert_ok(sm_rng_new(&rng, 3));
    const size_t sizes[] = {2, 2500};
    for (size_t t = 0; t < 2; t++) {
        smax = 7.0;
        float *same = malloc(sizes[t] * 3 * sizeof(float));
        for (size_t i = 0; i < sizes[t] * 3; i++)
            same[i] = (float)(i % 3) - 0.5f;
        ck_assert_ok(sm_dataset_new(&ds, same, sizes[t], 3));
        ck_assert_status(sm_schedule_suggest_sigma_max(ds, rng, &smax), SM_ERR_INVALID_ARG);
        ck_assert_msg(strstr(sm_last_error(), "are the same"), "%s", sm_last_error());
        ck_assert_double_eq(smax, 7.0);
        /* One point moved: a distance again. */
        same[sizes[t] * 3 - 1] += 2.0f;
        sm_dataset_free(ds);
        ck_assert_ok(sm_dataset_new(&ds, same, sizes[t], 3));
        ck_assert_ok(sm_schedule_suggest_sigma_max(ds, rng, &smax));
        ck_assert_double_eq_tol(smax, 2.0, 1e-6);
        sm_dataset_free(ds);
        free(same);
    }
    sm_rng_free(rng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, geometric_lab_ladder);
    tcase_add_test(tc, linear_ladder);
    tcase_add_test(tc, karras_ladder);
    tcase_add_test(tc, from_array_validates);
    tcase_add_test(tc, suggest_sigma_max);
    tcase_add_test(tc, suggest_sigma_max_needs_two_distinct_points);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
