/* The random number generator: reference values, reproducibility, streams,
 * distributions, bad arguments. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "rng-private.h"

START_TEST(xoshiro_reference_vector)
{
    /* Published xoshiro256** outputs for the state {1, 2, 3, 4}. */
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 0));
    r->s[0] = 1; r->s[1] = 2; r->s[2] = 3; r->s[3] = 4;
    ck_assert_uint_eq(sm_rng_next_u64(r), UINT64_C(11520));
    ck_assert_uint_eq(sm_rng_next_u64(r), UINT64_C(0));
    ck_assert_uint_eq(sm_rng_next_u64(r), UINT64_C(1509978240));
    ck_assert_uint_eq(sm_rng_next_u64(r), UINT64_C(1215971899390074240));
    sm_rng_free(r);
}
END_TEST

START_TEST(same_seed_same_sequence)
{
    sm_rng *a, *b, *c;
    ck_assert_ok(sm_rng_new(&a, 42));
    ck_assert_ok(sm_rng_new(&b, 42));
    ck_assert_ok(sm_rng_new(&c, 43));
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sm_rng_next_u64(a);
        ck_assert_uint_eq(x, sm_rng_next_u64(b));
        differs |= x != sm_rng_next_u64(c);
        ck_assert(sm_rng_normal(a) == sm_rng_normal(b));
    }
    ck_assert(differs);
    ck_assert_ok(sm_rng_reseed(c, 42));
    ck_assert_ok(sm_rng_reseed(a, 42));
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(sm_rng_next_u64(a), sm_rng_next_u64(c));
    sm_rng_free(a);
    sm_rng_free(b);
    sm_rng_free(c);
}
END_TEST

START_TEST(clone_continues_identically)
{
    sm_rng *a, *b;
    ck_assert_ok(sm_rng_new(&a, 7));
    (void)sm_rng_normal(a); /* leaves a spare deviate that the clone must keep */
    ck_assert_ok(sm_rng_clone(a, &b));
    for (int i = 0; i < 100; i++)
        ck_assert(sm_rng_normal(a) == sm_rng_normal(b));
    sm_rng_free(a);
    sm_rng_free(b);
}
END_TEST

START_TEST(split_streams_differ_and_are_deterministic)
{
    sm_rng *p1, *p2, *c1, *c2;
    ck_assert_ok(sm_rng_new(&p1, 9));
    ck_assert_ok(sm_rng_new(&p2, 9));
    ck_assert_ok(sm_rng_split(p1, &c1));
    ck_assert_ok(sm_rng_split(p2, &c2));
    int same_parent_child = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t a = sm_rng_next_u64(c1), b = sm_rng_next_u64(p1);
        ck_assert_uint_eq(a, sm_rng_next_u64(c2));
        ck_assert_uint_eq(b, sm_rng_next_u64(p2));
        same_parent_child += a == b;
    }
    ck_assert_int_lt(same_parent_child, 2);
    sm_rng_free(p1);
    sm_rng_free(p2);
    sm_rng_free(c1);
    sm_rng_free(c2);
}
END_TEST

START_TEST(uniform_range_and_moments)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 1));
    const int n = 200000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double u = sm_rng_uniform(r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        sq += u * u;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    ck_assert_double_eq_tol(mean, 0.5, 0.005);
    ck_assert_double_eq_tol(var, 1.0 / 12.0, 0.002);
    sm_rng_free(r);
}
END_TEST

START_TEST(normal_moments)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 2));
    const int n = 200000;
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double z = sm_rng_normal(r);
        ck_assert(isfinite(z));
        s1 += z; s2 += z * z; s3 += z * z * z; s4 += z * z * z * z;
    }
    ck_assert_double_eq_tol(s1 / n, 0.0, 0.01);
    ck_assert_double_eq_tol(s2 / n, 1.0, 0.015);
    ck_assert_double_eq_tol(s3 / n, 0.0, 0.04);
    ck_assert_double_eq_tol(s4 / n, 3.0, 0.08);
    sm_rng_free(r);
}
END_TEST

START_TEST(fill_normal_scaled)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 3));
    enum { N = 100000 };
    static float buf[N];
    ck_assert_ok(sm_rng_fill_normal(r, buf, N, 5.0f, 0.5f));
    double s1 = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        s1 += buf[i];
        s2 += (buf[i] - 5.0) * (buf[i] - 5.0);
    }
    ck_assert_double_eq_tol(s1 / N, 5.0, 0.01);
    ck_assert_double_eq_tol(sqrt(s2 / N), 0.5, 0.01);
    sm_rng_free(r);
}
END_TEST

START_TEST(below_is_unbiased_and_in_range)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 4));
    enum { K = 7, N = 70000 };
    int counts[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t v = sm_rng_below(r, K);
        ck_assert_uint_lt(v, K);
        counts[v]++;
    }
    double chi2 = 0, e = (double)N / K;
    for (int k = 0; k < K; k++)
        chi2 += (counts[k] - e) * (counts[k] - e) / e;
    ck_assert_double_lt(chi2, 22.46); /* p = 0.001 for 6 degrees of freedom */
    ck_assert_uint_eq(sm_rng_below(r, 1), 0);
    ck_assert_uint_eq(sm_rng_below(r, 0), 0);
    /* A bound near 2^64 still stays in range. */
    uint64_t big = UINT64_MAX - 5;
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_lt(sm_rng_below(r, big), big);
    sm_rng_free(r);
}
END_TEST

START_TEST(fill_uniform_bounds)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 5));
    float buf[1000];
    ck_assert_ok(sm_rng_fill_uniform(r, buf, 1000, -2.0f, 3.0f));
    float lo = 10, hi = -10;
    for (int i = 0; i < 1000; i++) {
        ck_assert(buf[i] >= -2.0f && buf[i] < 3.0f);
        lo = fminf(lo, buf[i]);
        hi = fmaxf(hi, buf[i]);
    }
    ck_assert_float_lt(lo, -1.9f);
    ck_assert_float_gt(hi, 2.9f);
    sm_rng_free(r);
}
END_TEST

START_TEST(bad_arguments)
{
    sm_rng *r = (sm_rng *)1;
    ck_assert_status(sm_rng_new(NULL, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_clone(NULL, &r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(r);
    ck_assert_status(sm_rng_split(NULL, &r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_jump(NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_reseed(NULL, 1), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_rng_new(&r, 1));
    float f[4];
    ck_assert_status(sm_rng_fill_normal(r, NULL, 4, 0, 1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_fill_normal(r, f, 4, 0, -1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_fill_normal(r, f, 4, NAN, 1), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_fill_uniform(r, f, 4, 1, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_rng_fill_uniform(r, f, 4, 0, INFINITY), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_rng_fill_normal(r, NULL, 0, 0, 1));
    ck_assert_uint_eq(sm_rng_next_u64(NULL), 0);
    ck_assert(sm_rng_uniform(NULL) == 0.0);
    ck_assert(sm_rng_normal(NULL) == 0.0);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("rng");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, xoshiro_reference_vector);
    tcase_add_test(tc, same_seed_same_sequence);
    tcase_add_test(tc, clone_continues_identically);
    tcase_add_test(tc, split_streams_differ_and_are_deterministic);
    tcase_add_test(tc, uniform_range_and_moments);
    tcase_add_test(tc, normal_moments);
    tcase_add_test(tc, fill_normal_scaled);
    tcase_add_test(tc, below_is_unbiased_and_in_range);
    tcase_add_test(tc, fill_uniform_bounds);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
