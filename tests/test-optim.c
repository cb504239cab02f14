/* Optimizers against sequences computed by hand. */
#include <math.h>

#include "testutil.h"

START_TEST(adam_two_steps)
{
    /* Hand computation (lr 0.1, β 0.9/0.999, ε 1e-8): the first Adam step
     * moves every parameter by lr·sign(g); the second by
     * lr·m̂/(√v̂+ε) with m = (0.055, -0.07), v = (0.00025975, 0.001039). */
    sm_optim *o;
    ck_assert_ok(sm_optim_new_adam(&o, 2, 0.1, 0.9, 0.999, 1e-8, 0.0));
    float p[2] = {1.0f, -2.0f};
    float g1[2] = {0.5f, -1.0f}, g2[2] = {0.1f, 0.2f};
    ck_assert_ok(sm_optim_step(o, p, g1, 2));
    ck_assert_float_eq_tol(p[0], 0.9f, 1e-6f);
    ck_assert_float_eq_tol(p[1], -1.9f, 1e-6f);
    ck_assert_ok(sm_optim_step(o, p, g2, 2));
    ck_assert_float_eq_tol(p[0], 0.819695906f, 2e-6f);
    ck_assert_float_eq_tol(p[1], -1.848897394f, 2e-6f);
    ck_assert_uint_eq(sm_optim_steps(o), 2);
    sm_optim_free(o);
}
END_TEST

START_TEST(adamw_decays_weights)
{
    /* Zero gradient: AdamW shrinks θ by (1 - lr·λ) and Adam's term is 0. */
    sm_optim *o;
    ck_assert_ok(sm_optim_new_adam(&o, 1, 0.1, 0.9, 0.999, 1e-8, 0.5));
    float p[1] = {2.0f}, g[1] = {0.0f};
    ck_assert_ok(sm_optim_step(o, p, g, 1));
    ck_assert_float_eq_tol(p[0], 2.0f * 0.95f, 1e-6f);
    sm_optim_free(o);
}
END_TEST

START_TEST(sgd_momentum)
{
    sm_optim *o;
    ck_assert_ok(sm_optim_new_sgd(&o, 1, 0.1, 0.9, 0.0));
    float p[1] = {1.0f}, g[1] = {1.0f};
    ck_assert_ok(sm_optim_step(o, p, g, 1)); /* u = 1 */
    ck_assert_float_eq_tol(p[0], 0.9f, 1e-6f);
    ck_assert_ok(sm_optim_step(o, p, g, 1)); /* u = 1.9 */
    ck_assert_float_eq_tol(p[0], 0.71f, 1e-6f);
    ck_assert_ok(sm_optim_reset(o));
    ck_assert_ok(sm_optim_step(o, p, g, 1)); /* u = 1 again */
    ck_assert_float_eq_tol(p[0], 0.61f, 1e-6f);
    sm_optim_free(o);
}
END_TEST

START_TEST(clipping_scales_global_norm)
{
    /* ‖g‖ = 5 clipped to 1: SGD without momentum moves by lr·g/5. */
    sm_optim *o;
    ck_assert_ok(sm_optim_new_sgd(&o, 2, 1.0, 0.0, 0.0));
    ck_assert_ok(sm_optim_set_clip_norm(o, 1.0));
    float p[2] = {0, 0}, g[2] = {3, 4};
    ck_assert_ok(sm_optim_step(o, p, g, 2));
    ck_assert_float_eq_tol(p[0], -0.6f, 1e-6f);
    ck_assert_float_eq_tol(p[1], -0.8f, 1e-6f);
    ck_assert_float_eq(g[0], 3.0f); /* gradients are not modified */
    sm_optim_free(o);
}
END_TEST

START_TEST(nonfinite_gradient_changes_nothing)
{
    sm_optim *o;
    ck_assert_ok(sm_optim_new_adam(&o, 3, 1e-3, 0.9, 0.999, 1e-8, 0.0));
    float p[3] = {1, 2, 3}, g[3] = {0.1f, NAN, 0.1f};
    ck_assert_status(sm_optim_step(o, p, g, 3), SM_ERR_NONFINITE);
    ck_assert_float_eq(p[0], 1.0f);
    ck_assert_float_eq(p[2], 3.0f);
    ck_assert_uint_eq(sm_optim_steps(o), 0);
    g[1] = INFINITY;
    ck_assert_status(sm_optim_step(o, p, g, 3), SM_ERR_NONFINITE);
    sm_optim_free(o);
}
END_TEST

START_TEST(bad_arguments)
{
    sm_optim *o = (sm_optim *)1;
    ck_assert_status(sm_optim_new_adam(&o, 0, 1e-3, 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(o);
    ck_assert_status(sm_optim_new_adam(&o, 4, -1, 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_new_adam(&o, 4, 1e-3, 1.0, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_new_adam(&o, 4, NAN, 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_new_sgd(&o, 4, 0.1, -0.1, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_new_sgd(NULL, 4, 0.1, 0, 0), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_optim_new_sgd(&o, 4, 0.1, 0, 0));
    float p[4] = {0}, g[4] = {0};
    ck_assert_status(sm_optim_step(o, p, g, 3), SM_ERR_SHAPE);
    ck_assert_status(sm_optim_step(o, NULL, g, 4), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_set_lr(o, 0.0), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_optim_set_lr(o, 0.5));
    ck_assert_double_eq(sm_optim_lr(o), 0.5);
    ck_assert_status(sm_optim_set_clip_norm(o, -1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_optim_step_net(o, NULL), SM_ERR_INVALID_ARG);
    sm_optim_free(o);
    sm_optim_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, adam_two_steps);
    tcase_add_test(tc, adamw_decays_weights);
    tcase_add_test(tc, sgd_momentum);
    tcase_add_test(tc, clipping_scales_global_norm);
    tcase_add_test(tc, nonfinite_gradient_changes_nothing);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
