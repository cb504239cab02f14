/* Shared helpers for the Check test programs. */
#ifndef SM_TESTUTIL_H
#define SM_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scorematch.h>

/* Asserts a call's status, showing the library's message when it differs. */
#define ck_assert_status(expr, expected)                                        \
    do {                                                                        \
        sm_status st_ = (expr);                                                 \
        ck_assert_msg(st_ == (expected), "%s returned %d (%s), expected %d; last error: %s", \
                      #expr, (int)st_, sm_strerror(st_), (int)(expected), sm_last_error()); \
    } while (0)

#define ck_assert_ok(expr) ck_assert_status(expr, SM_OK)

/* A 2-D network whose output is the constant c whatever x and σ: every
 * hidden weight and bias 0, the last layer's weights 0 and its bias c, so
 * samplers and likelihoods have closed-form results. Returns the offset of
 * that bias in sm_net_params(). */
static inline size_t sm_test_constant_net(sm_net **net, sm_rng *rng, const float c[2])
{
    ck_assert_ok(sm_net_new(net, 2, 4, 1, rng));
    memset(sm_net_params(*net), 0, sm_net_num_params(*net) * sizeof(float));
    size_t b_off;
    ck_assert_ok(sm_net_layer(*net, 1, NULL, &b_off, NULL, NULL));
    sm_net_params(*net)[b_off] = c[0];
    sm_net_params(*net)[b_off + 1] = c[1];
    return b_off;
}

/* Runs a suite and returns the process exit code. */
static inline int sm_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
