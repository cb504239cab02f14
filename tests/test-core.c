/* Version, status strings and the last-error message. */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

START_TEST(version_matches_headers)
{
    ck_assert_str_eq(sm_version_string(), SM_VERSION_STRING);
    ck_assert_uint_eq(sm_version_number(), SM_VERSION_NUMBER);
    ck_assert_uint_eq(SM_VERSION_NUMBER,
                      SM_VERSION_MAJOR * 10000 + SM_VERSION_MINOR * 100 + SM_VERSION_PATCH);
    ck_assert(SM_VERSION_CHECK(SM_VERSION_MAJOR, SM_VERSION_MINOR, SM_VERSION_PATCH));
    ck_assert(!SM_VERSION_CHECK(SM_VERSION_MAJOR + 1, 0, 0));
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", SM_VERSION_MAJOR, SM_VERSION_MINOR, SM_VERSION_PATCH);
    ck_assert_str_eq(buf, SM_VERSION_STRING);
}
END_TEST

START_TEST(status_values_are_fixed)
{
    /* These numbers are ABI: they must never change. */
    ck_assert_int_eq(SM_OK, 0);
    ck_assert_int_eq(SM_ERR_INVALID_ARG, -1);
    ck_assert_int_eq(SM_ERR_NOMEM, -2);
    ck_assert_int_eq(SM_ERR_OVERFLOW, -3);
    ck_assert_int_eq(SM_ERR_SHAPE, -4);
    ck_assert_int_eq(SM_ERR_NONFINITE, -5);
    ck_assert_int_eq(SM_ERR_IO, -6);
    ck_assert_int_eq(SM_ERR_PARSE, -7);
    ck_assert_int_eq(SM_ERR_FORMAT, -8);
    ck_assert_int_eq(SM_ERR_VERSION, -9);
    ck_assert_int_eq(SM_ERR_DIVERGED, -10);
    ck_assert_int_eq(SM_ERR_CANCELLED, -11);
    ck_assert_int_eq(SM_ERR_STATE, -12);
}
END_TEST

START_TEST(strerror_distinct_and_total)
{
    for (int a = SM_ERR_STATE; a <= 0; a++) {
        ck_assert_str_ne(sm_strerror((sm_status)a), "unknown status");
        for (int b = SM_ERR_STATE; b < a; b++)
            ck_assert_str_ne(sm_strerror((sm_status)a), sm_strerror((sm_status)b));
    }
    ck_assert_str_eq(sm_strerror((sm_status)-999), "unknown status");
    ck_assert_str_eq(sm_strerror((sm_status)5), "unknown status");
}
END_TEST

START_TEST(last_error_set_by_failure_kept_by_success)
{
    sm_clear_error();
    ck_assert_str_eq(sm_last_error(), "");
    ck_assert_status(sm_rng_new(NULL, 1), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sm_rng_new"));
    sm_rng *r = NULL;
    ck_assert_ok(sm_rng_new(&r, 1));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sm_rng_new"));
    sm_rng_free(r);
    sm_clear_error();
    ck_assert_str_eq(sm_last_error(), "");
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    sm_dataset_new(NULL, NULL, 0, 0); /* fails on this thread only */
    return (void *)strstr(sm_last_error(), "sm_dataset_new");
}

START_TEST(last_error_is_per_thread)
{
    sm_clear_error();
    pthread_t t;
    void *found = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &found), 0);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(sm_last_error(), "");
}
END_TEST

START_TEST(free_functions_accept_null)
{
    sm_rng_free(NULL);
    sm_dataset_free(NULL);
    ck_assert_uint_eq(sm_dataset_size(NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_headers);
    tcase_add_test(tc, status_values_are_fixed);
    tcase_add_test(tc, strerror_distinct_and_total);
    tcase_add_test(tc, last_error_set_by_failure_kept_by_success);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, free_functions_accept_null);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
