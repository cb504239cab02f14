/* Data sets: construction, CSV parsing and writing, labels, standardization,
 * and every documented error. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static sm_status parse(const char *text, sm_dataset **out)
{
    return sm_dataset_parse_csv(out, text, strlen(text));
}

START_TEST(new_copies_data)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, 3, 2));
    x[0] = 100;
    ck_assert_uint_eq(sm_dataset_size(ds), 3);
    ck_assert_uint_eq(sm_dataset_dim(ds), 2);
    ck_assert_float_eq(sm_dataset_data(ds)[0], 1.0f);
    ck_assert_float_eq(sm_dataset_row(ds, 2)[1], 6.0f);
    ck_assert_ptr_null(sm_dataset_row(ds, 3));
    sm_dataset_free(ds);
}
END_TEST

START_TEST(new_rejects_bad_input)
{
    float x[4] = {1, 2, NAN, 4};
    sm_dataset *ds = (sm_dataset *)1;
    ck_assert_status(sm_dataset_new(NULL, x, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_new(&ds, NULL, 2, 2), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds);
    ck_assert_status(sm_dataset_new(&ds, x, 0, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_new(&ds, x, 2, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_new(&ds, x, SIZE_MAX / 2, 4), SM_ERR_OVERFLOW);
    ck_assert_status(sm_dataset_new(&ds, x, 2, 2), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "row 1, column 0"));
    x[2] = INFINITY;
    ck_assert_status(sm_dataset_new(&ds, x, 2, 2), SM_ERR_NONFINITE);
    ck_assert_ptr_null(ds);
}
END_TEST

/* The first non-finite value is found wherever it sits in a large array
 * (the check works in blocks), and the largest finite values, subnormals and
 * negative zero pass. */
START_TEST(new_finds_first_nonfinite_anywhere)
{
    enum { N = 1000, D = 3 };
    static float x[N * D];
    for (size_t i = 0; i < N * D; i++)
        x[i] = (float)i * 0.5f - 700.0f;
    x[5] = FLT_MAX;
    x[6] = -FLT_MAX;
    x[7] = FLT_MIN / 4.0f;
    x[8] = -0.0f;
    sm_dataset *ds = NULL;
    ck_assert_status(sm_dataset_new(&ds, x, N, D), SM_OK);
    sm_dataset_free(ds);
    const size_t at[] = {0, 255, 256, 701, 2999};
    const float bad[] = {NAN, INFINITY, -INFINITY, -NAN, INFINITY};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        const float keep = x[at[k]], keep_last = x[N * D - 1];
        x[N * D - 1] = NAN; /* a later one, not to be reported */
        x[at[k]] = bad[k];
        char want[64];
        snprintf(want, sizeof want, "row %zu, column %zu", at[k] / D, at[k] % D);
        ds = (sm_dataset *)1;
        ck_assert_status(sm_dataset_new(&ds, x, N, D), SM_ERR_NONFINITE);
        ck_assert_ptr_null(ds);
        ck_assert_msg(strstr(sm_last_error(), want), "%s: %s", want, sm_last_error());
        x[at[k]] = keep;
        x[N * D - 1] = keep_last;
    }
}
END_TEST

START_TEST(csv_header_comments_blank_lines)
{
    const char *text = "# generated points\n"
                       "x, y\n"
                       "\n"
                       "1.5, -2\r\n"
                       "  3e-1 ,4 # trailing comment\n"
                       "\t5,6";
    sm_dataset *ds;
    ck_assert_ok(parse(text, &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 3);
    ck_assert_uint_eq(sm_dataset_dim(ds), 2);
    const float *d = sm_dataset_data(ds);
    ck_assert_float_eq(d[0], 1.5f);
    ck_assert_float_eq(d[1], -2.0f);
    ck_assert_float_eq(d[2], 0.3f);
    ck_assert_float_eq(d[5], 6.0f);
    sm_dataset_free(ds);
}
END_TEST

START_TEST(csv_without_header)
{
    sm_dataset *ds;
    ck_assert_ok(parse("1\n2\n3\n", &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 3);
    ck_assert_uint_eq(sm_dataset_dim(ds), 1);
    sm_dataset_free(ds);
}
END_TEST

START_TEST(csv_errors_name_line_and_column)
{
    sm_dataset *ds = (sm_dataset *)1;
    ck_assert_status(parse("1,2\n3,4\n5,6,7\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "expected 2 fields, found 3"));

    ck_assert_status(parse("a,b\n1,2\n3,oops\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3, column 2"));

    ck_assert_status(parse("1,2\n3,\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 2, column 2"));

    ck_assert_status(parse("1,2\n# c\n3,nan\n", &ds), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3, column 2"));
    ck_assert_status(parse("1,inf\n", &ds), SM_ERR_NONFINITE);
    ck_assert_status(parse("1,1e60\n", &ds), SM_ERR_NONFINITE); /* beyond float */

    ck_assert_status(parse("", &ds), SM_ERR_PARSE);
    ck_assert_status(parse("# only a comment\n\n", &ds), SM_ERR_PARSE);
    ck_assert_status(parse("x,y\n", &ds), SM_ERR_PARSE); /* header, no rows */
    ck_assert_status(parse("1,2\n3\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 2"));

    const char nul[] = "1,2\n3,\0" "4\n";
    ck_assert_status(sm_dataset_parse_csv(&ds, nul, sizeof nul - 1), SM_ERR_PARSE);
    ck_assert_status(sm_dataset_parse_csv(&ds, NULL, 3), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_parse_csv(NULL, "1", 1), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(csv_ignores_program_locale)
{
    /* A locale with a decimal comma must not change how files are read. */
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
        setlocale(LC_NUMERIC, "C");
    sm_dataset *ds;
    ck_assert_ok(parse("0.25,1.5\n", &ds));
    ck_assert_float_eq(sm_dataset_data(ds)[0], 0.25f);
    ck_assert_float_eq(sm_dataset_data(ds)[1], 1.5f);
    sm_dataset_free(ds);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(csv_file_round_trip_is_exact)
{
    char path[] = "/tmp/sm-test-csv-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 11));
    float x[300];
    ck_assert_ok(sm_rng_fill_normal(r, x, 300, 0.0f, 1000.0f));
    sm_dataset *a, *b;
    ck_assert_ok(sm_dataset_new(&a, x, 100, 3));
    ck_assert_ok(sm_dataset_write_csv(a, path));
    ck_assert_ok(sm_dataset_read_csv(&b, path));
    ck_assert_uint_eq(sm_dataset_size(b), 100);
    ck_assert_uint_eq(sm_dataset_dim(b), 3);
    ck_assert_int_eq(memcmp(sm_dataset_data(a), sm_dataset_data(b), sizeof x), 0);
    sm_dataset_free(a);
    sm_dataset_free(b);
    sm_rng_free(r);
    unlink(path);
}
END_TEST

START_TEST(csv_file_errors)
{
    sm_dataset *ds;
    ck_assert_status(sm_dataset_read_csv(&ds, "/nonexistent/dir/points.csv"), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "/nonexistent/dir/points.csv"));
    ck_assert_status(sm_dataset_read_csv(&ds, NULL), SM_ERR_INVALID_ARG);
    float x[2] = {1, 2};
    ck_assert_status(sm_points_write_csv("/nonexistent/dir/o.csv", x, 1, 2), SM_ERR_IO);
    ck_assert_status(sm_points_write_csv("/tmp/x.csv", NULL, 1, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_write_csv(NULL, "/tmp/x.csv"), SM_ERR_INVALID_ARG);

    char path[] = "/tmp/sm-test-csv-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *bad = "1,2\n3,4\n5,x\n";
    ck_assert_int_eq(write(fd, bad, strlen(bad)), (int)strlen(bad));
    close(fd);
    ck_assert_status(sm_dataset_read_csv(&ds, path), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), path));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3, column 2"));
    unlink(path);
}
END_TEST

START_TEST(labels)
{
    float x[6] = {0};
    int32_t lab[3] = {0, 2, 1};
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, 3, 2));
    ck_assert_ptr_null(sm_dataset_labels(ds));
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 0);
    ck_assert_status(sm_dataset_set_labels(ds, lab, 2), SM_ERR_SHAPE);
    int32_t neg[3] = {0, -1, 0};
    ck_assert_status(sm_dataset_set_labels(ds, neg, 3), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_dataset_set_labels(ds, lab, 3));
    lab[0] = 5;
    ck_assert_int_eq(sm_dataset_labels(ds)[0], 0);
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 3);
    sm_dataset *c;
    ck_assert_ok(sm_dataset_clone(ds, &c));
    ck_assert_int_eq(sm_dataset_labels(c)[1], 2);
    ck_assert_ok(sm_dataset_set_labels(ds, NULL, 0));
    ck_assert_ptr_null(sm_dataset_labels(ds));
    sm_dataset_free(ds);
    sm_dataset_free(c);
}
END_TEST

START_TEST(standardize_and_inverse)
{
    /* Column 0: 1,2,3,4 (mean 2.5, population std sqrt(1.25)); column 1 constant. */
    float x[8] = {1, 7, 2, 7, 3, 7, 4, 7};
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, 4, 2));
    ck_assert_int_eq(sm_dataset_is_standardized(ds), 0);
    ck_assert_ok(sm_dataset_standardize(ds));
    ck_assert_int_eq(sm_dataset_is_standardized(ds), 1);
    float mean[2], sd[2];
    ck_assert_ok(sm_dataset_get_standardization(ds, mean, sd, 2));
    ck_assert_float_eq_tol(mean[0], 2.5f, 1e-6f);
    ck_assert_float_eq_tol(sd[0], sqrtf(1.25f), 1e-6f);
    ck_assert_float_eq_tol(mean[1], 7.0f, 1e-6f);
    /* The constant column's divisor is the floor, 0.1 × √(mean variance). */
    ck_assert_float_eq_tol(sd[1], (float)(SM_STANDARDIZE_FLOOR * sqrt(1.25 / 2)), 1e-7f);
    const float *d = sm_dataset_data(ds);
    ck_assert_float_eq_tol(d[0], -1.5f / sqrtf(1.25f), 1e-6f);
    ck_assert_float_eq(d[1], 0.0f);
    /* Inverse map restores the original units. */
    float p[8];
    memcpy(p, d, sizeof p);
    ck_assert_ok(sm_dataset_unstandardize_points(ds, p, 4, 2));
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq_tol(p[i], x[i], 1e-5f);
    ck_assert_ok(sm_dataset_standardize_points(ds, p, 4, 2));
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq_tol(p[i], d[i], 1e-5f);
    /* Standardizing twice composes the statistics. */
    ck_assert_ok(sm_dataset_standardize(ds));
    memcpy(p, sm_dataset_data(ds), sizeof p);
    ck_assert_ok(sm_dataset_unstandardize_points(ds, p, 4, 2));
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq_tol(p[i], x[i], 1e-5f);
    ck_assert_status(sm_dataset_unstandardize_points(ds, p, 4, 3), SM_ERR_SHAPE);
    ck_assert_status(sm_dataset_unstandardize_points(ds, NULL, 4, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_get_standardization(ds, mean, sd, 3), SM_ERR_SHAPE);
    ck_assert_status(sm_dataset_standardize(NULL), SM_ERR_INVALID_ARG);
    sm_dataset_free(ds);
}
END_TEST

START_TEST(standardize_gives_unit_moments)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 3));
    float x[2000];
    ck_assert_ok(sm_rng_fill_normal(r, x, 2000, 10.0f, 3.0f));
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, 1000, 2));
    ck_assert_ok(sm_dataset_standardize(ds));
    for (int j = 0; j < 2; j++) {
        double s1 = 0, s2 = 0;
        for (int i = 0; i < 1000; i++) {
            double v = sm_dataset_row(ds, (size_t)i)[j];
            s1 += v;
            s2 += v * v;
        }
        ck_assert_double_eq_tol(s1 / 1000, 0.0, 1e-5);
        ck_assert_double_eq_tol(s2 / 1000, 1.0, 1e-4);
    }
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

/* A nearly constant column (one lit value in a thousand rows) is divided by
 * the floor, not by its own tiny spread: its lone value stays within
 * 1/(0.1·S) instead of becoming an outlier √n units large; a column of all
 * equal values stays 0; the inverse restores the data. */
START_TEST(standardize_floor_on_near_constant_columns)
{
    enum { N = 1000 };
    static float x[N * 3];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 3));
    for (size_t i = 0; i < N; i++) {
        x[3 * i] = (float)sm_rng_normal(r);      /* spread 1 */
        x[3 * i + 1] = i == 17 ? 1.0f : 0.0f;    /* spread ≈ 0.0316 */
        x[3 * i + 2] = 5.0f;                     /* constant */
    }
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_new(&ds, x, N, 3));
    ck_assert_ok(sm_dataset_standardize(ds));
    float mean[3], sd[3];
    ck_assert_ok(sm_dataset_get_standardization(ds, mean, sd, 3));
    const float *d = sm_dataset_data(ds);
    double s0 = 0, m0 = 0;
    for (size_t i = 0; i < N; i++)
        m0 += x[3 * i];
    m0 /= N;
    for (size_t i = 0; i < N; i++)
        s0 += (x[3 * i] - m0) * (x[3 * i] - m0);
    s0 = sqrt(s0 / N);
    const double s1 = sqrt(0.001 * 0.999), S = sqrt((s0 * s0 + s1 * s1) / 3.0);
    ck_assert_double_eq_tol(sd[0], s0, 1e-5); /* well above the floor: exact */
    ck_assert_double_eq_tol(sd[1], SM_STANDARDIZE_FLOOR * S, 1e-6);
    ck_assert_double_eq_tol(sd[2], SM_STANDARDIZE_FLOOR * S, 1e-6);
    float big = 0;
    for (size_t i = 0; i < N; i++) {
        big = fmaxf(big, fabsf(d[3 * i + 1]));
        ck_assert_float_eq(d[3 * i + 2], 0.0f);
    }
    ck_assert_float_le(big, (float)(1.0 / (SM_STANDARDIZE_FLOOR * S)) + 1e-3f);
    ck_assert_float_gt(big, 5.0f);
    static float back[N * 3];
    memcpy(back, d, sizeof back);
    ck_assert_ok(sm_dataset_unstandardize_points(ds, back, N, 3));
    for (size_t i = 0; i < N * 3; i++)
        ck_assert_float_eq_tol(back[i], x[i], 1e-5f);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, new_copies_data);
    tcase_add_test(tc, standardize_floor_on_near_constant_columns);
    tcase_add_test(tc, new_rejects_bad_input);
    tcase_add_test(tc, new_finds_first_nonfinite_anywhere);
    tcase_add_test(tc, csv_header_comments_blank_lines);
    tcase_add_test(tc, csv_without_header);
    tcase_add_test(tc, csv_errors_name_line_and_column);
    tcase_add_test(tc, csv_ignores_program_locale);
    tcase_add_test(tc, csv_file_round_trip_is_exact);
    tcase_add_test(tc, csv_file_errors);
    tcase_add_test(tc, labels);
    tcase_add_test(tc, standardize_and_inverse);
    tcase_add_test(tc, standardize_gives_unit_moments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
