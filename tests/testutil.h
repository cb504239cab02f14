/* Shared helpers for the Check test programs. */
#ifndef SM_TESTUTIL_H
#define SM_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <scorematch.h>

/* Asserts a call's status, showing the library's message when it differs. */
#define ck_assert_status(expr, expected)                                        \
    do {                                                                        \
        sm_status st_ = (expr);                                                 \
        ck_assert_msg(st_ == (expected), "%s returned %d (%s), expected %d; last error: %s", \
                      #expr, (int)st_, sm_strerror(st_), (int)(expected), sm_last_error()); \
    } while (0)

#define ck_assert_ok(expr) ck_assert_status(expr, SM_OK)

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
