/* Data sets: construction, CSV parsing and writing, labels, standardization,
 * and every documented error. */
#include <errno.h>
#include <fcntl.h>
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

/* ---- no row is lost without an error ------------------------------------ */

START_TEST(csv_byte_order_mark_is_skipped)
{
    sm_dataset *ds;
    /* Data on the first line after the mark: a row, not a header. */
    ck_assert_ok(parse("\xEF\xBB\xBF" "1.5,2\n3,4\n", &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 2);
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 0);
    ck_assert_float_eq(sm_dataset_data(ds)[0], 1.5f);
    sm_dataset_free(ds);
    /* A header after the mark: skipped and counted. */
    ck_assert_ok(parse("\xEF\xBB\xBF" "x,y\r\n1,2\r\n", &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 1);
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 1);
    ck_assert_float_eq(sm_dataset_data(ds)[0], 1.0f);
    sm_dataset_free(ds);
    /* Only at the start of the text: elsewhere the bytes are an error. */
    ck_assert_status(parse("1,2\n\xEF\xBB\xBF" "3,4\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 2, column 1"));
}
END_TEST

/* A number of len characters, "1.5000..." or "-000...2.25", in buf. */
static void long_number(char *buf, size_t len, int leading_zeros)
{
    if (leading_zeros) {
        buf[0] = '-';
        memset(buf + 1, '0', len - 5);
        memcpy(buf + len - 4, "2.25", 4);
    } else {
        memcpy(buf, "1.5", 3);
        memset(buf + 3, '0', len - 3);
    }
    buf[len] = '\0';
}

START_TEST(csv_numbers_of_any_length)
{
    static const size_t lens[] = {127, 128, 129, 200, 10000, 100000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const size_t len = lens[k];
        char *a = malloc(len + 1), *b = malloc(len + 1), *text = malloc(4 * len + 64);
        ck_assert(a && b && text);
        long_number(a, len, 0);
        long_number(b, len, 1);
        /* In the first row (once dropped as a "header") and in later ones. */
        snprintf(text, 4 * len + 64, "%s,%s\n7,%s\n%s,8\n", a, b, a, b);
        sm_dataset *ds;
        ck_assert_ok(parse(text, &ds));
        ck_assert_uint_eq(sm_dataset_size(ds), 3);
        ck_assert_uint_eq(sm_dataset_header_rows(ds), 0);
        const float want[6] = {1.5f, -2.25f, 7.0f, 1.5f, -2.25f, 8.0f};
        for (int i = 0; i < 6; i++)
            ck_assert_float_eq(sm_dataset_data(ds)[i], want[i]);
        sm_dataset_free(ds);
        /* A long field that is not a number is reported, shortened. */
        a[len / 2] = 'x';
        snprintf(text, 4 * len + 64, "1,2\n3,%s\n", a);
        ck_assert_status(parse(text, &ds), SM_ERR_PARSE);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 2, column 2"));
        free(a);
        free(b);
        free(text);
    }
}
END_TEST

START_TEST(csv_malformed_first_row_is_an_error)
{
    sm_dataset *ds = (sm_dataset *)1;
    /* A mistyped number: it starts like one, so it is no column name. */
    ck_assert_status(parse("2.O\n3\n4\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 1, column 1"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "'2.O'"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "not a header"));
    /* An empty field between numbers. */
    ck_assert_status(parse("1,,2\n3,4,5\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 1, column 2"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "empty field"));
    /* Numbers and words mixed. */
    ck_assert_status(parse("1,x\n2,3\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 1, column 2"));
    /* Column names with one mistyped number among them: the number is
     * named, not the first name. */
    ck_assert_status(parse("x,.5y\n1,2\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 1, column 2"));
    /* After comments and blank lines the line number is the file's. */
    ck_assert_status(parse("# points\n\n-3e,1\n1,2\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3, column 1"));
    /* A second header line is data, hence an error. */
    ck_assert_status(parse("x,y\nx,y\n1,2\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 2, column 1"));
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(csv_header_rows_are_counted)
{
    static const struct {
        const char *text;
        size_t rows, header;
    } cases[] = {
        {"x,y\n1,2\n3,4\n", 2, 1},
        {"1,2\n3,4\n", 2, 0},
        {"# comment\n\nx , y\n1,2\n", 1, 1},
        {",a,b\n5,1,2\n", 1, 1},           /* an unnamed first column, not row numbers */
        {"-x,+.y,inf_rate\n1,2,3\n", 1, 1}, /* names, not numbers */
        {"\"x\",\"y\"\n1,2\n", 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sm_dataset *ds;
        ck_assert_ok(parse(cases[k].text, &ds));
        ck_assert_uint_eq(sm_dataset_size(ds), cases[k].rows);
        ck_assert_uint_eq(sm_dataset_header_rows(ds), cases[k].header);
        sm_dataset *c;
        ck_assert_ok(sm_dataset_clone(ds, &c));
        ck_assert_uint_eq(sm_dataset_header_rows(c), cases[k].header);
        sm_dataset_free(c);
        sm_dataset_free(ds);
    }
    /* A header must have as many fields as the rows. */
    sm_dataset *ds;
    ck_assert_status(parse("x,y,z\n1,2\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "expected 3 fields, found 2"));
    const float x[2] = {1, 2};
    ck_assert_ok(sm_dataset_new(&ds, x, 1, 2));
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 0);
    sm_dataset_free(ds);
    ck_assert_uint_eq(sm_dataset_header_rows(NULL), 0);
}
END_TEST

START_TEST(csv_line_endings)
{
    sm_dataset *ds;
    /* A lone CR ends a line (classic Mac OS), as LF and CRLF do. */
    ck_assert_ok(parse("x,y\r1,2\r3,4\r", &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 2);
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 1);
    ck_assert_float_eq(sm_dataset_data(ds)[3], 4.0f);
    sm_dataset_free(ds);
    /* Mixed in one text; blank lines of every kind are skipped. */
    ck_assert_ok(parse("1,2\r\n3,4\n\r5,6\r\r\n7,8", &ds));
    ck_assert_uint_eq(sm_dataset_size(ds), 4);
    ck_assert_float_eq(sm_dataset_data(ds)[7], 8.0f);
    sm_dataset_free(ds);
    /* Line numbers count CR-only lines. */
    ck_assert_status(parse("1,2\r3,4\r5,x\r", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3, column 2"));
    ck_assert_status(parse("1,2\r\n3,4\r\n5\r\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "line 3"));
}
END_TEST

/* Every combination of byte-order mark, header, comment, line ending and
 * final line ending: each data row written is read, in order. */
START_TEST(csv_no_row_is_lost)
{
    static const char *const eols[] = {"\n", "\r\n", "\r"};
    char text[512];
    for (int bom = 0; bom < 2; bom++)
        for (int header = 0; header < 2; header++)
            for (int comment = 0; comment < 2; comment++)
                for (int e = 0; e < 3; e++)
                    for (int final_eol = 0; final_eol < 2; final_eol++)
                        for (size_t rows = 1; rows <= 3; rows++) {
                            const char *eol = eols[e];
                            size_t n = 0;
                            n += (size_t)snprintf(text + n, sizeof text - n, "%s%s",
                                                  bom ? "\xEF\xBB\xBF" : "",
                                                  comment ? "# made by hand" : "");
                            if (comment)
                                n += (size_t)snprintf(text + n, sizeof text - n, "%s", eol);
                            if (header)
                                n += (size_t)snprintf(text + n, sizeof text - n, "a,b%s", eol);
                            for (size_t i = 0; i < rows; i++)
                                n += (size_t)snprintf(text + n, sizeof text - n, "%zu.5,-%zu%s",
                                                      i, i + 1,
                                                      i + 1 < rows || final_eol ? eol : "");
                            sm_dataset *ds;
                            ck_assert_ok(sm_dataset_parse_csv(&ds, text, n));
                            ck_assert_uint_eq(sm_dataset_size(ds), rows);
                            ck_assert_uint_eq(sm_dataset_dim(ds), 2);
                            ck_assert_uint_eq(sm_dataset_header_rows(ds), (size_t)header);
                            for (size_t i = 0; i < rows; i++) {
                                ck_assert_float_eq(sm_dataset_row(ds, i)[0], (float)i + 0.5f);
                                ck_assert_float_eq(sm_dataset_row(ds, i)[1], -(float)(i + 1));
                            }
                            sm_dataset_free(ds);
                        }
}
END_TEST

/* ---- special files ---------------------------------------------------- */

START_TEST(csv_refuses_special_files)
{
    char dir[] = "/tmp/sm-test-csv-XXXXXX", fifo[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    sm_dataset *ds = (sm_dataset *)1;
    /* Endless input: refused, not read until memory runs out. */
    ck_assert_status(sm_dataset_read_csv(&ds, "/dev/zero"), SM_ERR_IO);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "/dev/zero"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "not a regular file"));
    /* A FIFO without a writer: refused at once, not waited on. */
    ck_assert_status(sm_dataset_read_csv(&ds, fifo), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "FIFO"));
    ck_assert_status(sm_dataset_read_csv(&ds, dir), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "directory"));
    ck_assert_ptr_null(ds);
    sm_test_remove_tree(dir);
}
END_TEST

/* ---- writing ---------------------------------------------------------- */

START_TEST(csv_write_refuses_nonfinite)
{
    char dir[] = "/tmp/sm-test-csv-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.csv", dir);
    float x[6] = {1, 2, 3, 4, 5, 6};
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        x[5] = bad[k];
        ck_assert_status(sm_points_write_csv(path, x, 3, 2), SM_ERR_NONFINITE);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "row 2, column 1"));
        ck_assert_int_ne(access(path, F_OK), 0); /* nothing created */
    }
    /* An existing file is left as it was. */
    sm_test_write_whole(path, "9,9\n", 4);
    x[0] = NAN;
    x[5] = 6;
    ck_assert_status(sm_points_write_csv(path, x, 3, 2), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "row 0, column 0"));
    size_t len;
    unsigned char *b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(b, "9,9\n", 4), 0);
    free(b);
    ck_assert_int_eq(sm_test_count_temp_files(dir), 0);
    sm_test_remove_tree(dir);
}
END_TEST

typedef struct {
    const char *path;
    const float *x;
    size_t n, dim;
} write_args;

static sm_status write_call(void *p)
{
    write_args *a = p;
    return sm_points_write_csv(a->path, a->x, a->n, a->dim);
}

START_TEST(csv_write_failures_leave_no_temporary)
{
    char dir[] = "/tmp/sm-test-csv-XXXXXX", path[64], inside[80], msg[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.csv", dir);
    enum { N = 5000 };
    static float x[N * 2];
    for (size_t i = 0; i < N * 2; i++)
        x[i] = (float)i * 0.37f - 100.0f;
    write_args a = {path, x, N, 2};

    /* The write fails part way (the file size limit stands in for a full
     * disk): an I/O error naming the write, no temporary left, an older
     * file as it was. */
    sm_test_write_whole(path, "9,9\n", 4);
    ck_assert_int_eq(sm_test_with_file_size_limit(write_call, &a, 20000, msg, sizeof msg),
                     SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, "write of"));
    ck_assert_ptr_nonnull(strstr(msg, strerror(EFBIG)));
    ck_assert_int_eq(sm_test_count_temp_files(dir), 0);
    size_t len;
    unsigned char *b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(b, "9,9\n", 4), 0);
    free(b);
    /* Without the limit the same write succeeds and reads back. */
    ck_assert_int_eq(sm_test_with_file_size_limit(write_call, &a, RLIM_INFINITY, msg, sizeof msg),
                     SM_OK);
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_read_csv(&ds, path));
    ck_assert_uint_eq(sm_dataset_size(ds), N);
    ck_assert_int_eq(memcmp(sm_dataset_data(ds), x, sizeof x), 0);

    /* The rename fails (the target is a directory): the temporary is
     * removed and the directory untouched. */
    snprintf(path, sizeof path, "%s/adir", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(inside, sizeof inside, "%s/adir/inside", dir);
    sm_test_write_whole(inside, "x", 1);
    ck_assert_status(sm_dataset_write_csv(ds, path), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "rename"));
    ck_assert_int_eq(access(inside, F_OK), 0);
    ck_assert_int_eq(sm_test_count_temp_files(dir), 0);
    sm_dataset_free(ds);
    sm_test_remove_tree(dir);
}
END_TEST

START_TEST(csv_write_to_special_files)
{
    char dir[] = "/tmp/sm-test-csv-XXXXXX", fifo[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const float x[4] = {1.5f, -2, 3, 4.25f};
    /* Nobody reads the FIFO: refused instead of blocking. */
    ck_assert_status(sm_points_write_csv(fifo, x, 2, 2), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "no process reads it"));
    /* A reader gets the rows through the FIFO, which stays a FIFO. */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rd, 0);
    ck_assert_ok(sm_points_write_csv(fifo, x, 2, 2));
    char got[64];
    const char *want = "1.5,-2\n3,4.25\n";
    ck_assert_int_eq(read(rd, got, sizeof got), (ssize_t)strlen(want));
    ck_assert_int_eq(memcmp(got, want, strlen(want)), 0);
    close(rd);
    struct stat sb;
    ck_assert_int_eq(stat(fifo, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(sm_test_count_temp_files(dir), 0);
    /* A link to an open descriptor (what /dev/stdout is under a shell
     * redirection to a file) is written through, not replaced: the file
     * behind it gets the rows, the links stay links. */
    char redirect[64], fd_link[64], dev_fd[64], own_link[64];
    snprintf(redirect, sizeof redirect, "%s/redirected.csv", dir);
    sm_test_write_whole(redirect, "older and longer contents\n", 26);
    int fd = open(redirect, O_RDWR);
    ck_assert_int_ge(fd, 0);
    snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", fd);
    snprintf(dev_fd, sizeof dev_fd, "/dev/fd/%d", fd);
    snprintf(own_link, sizeof own_link, "%s/out", dir);
    ck_assert_int_eq(symlink(fd_link, own_link), 0);
    const char *links[3] = {fd_link, dev_fd, own_link};
    for (int k = 0; k < 3; k++) {
        if (lstat(links[k], &sb) != 0) /* no /proc or /dev/fd here */
            continue;
        ck_assert_ok(sm_points_write_csv(links[k], x, 2, 2));
        size_t len;
        unsigned char *b = sm_test_read_whole(redirect, &len);
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_int_eq(memcmp(b, want, len), 0);
        free(b);
        sm_test_write_whole(redirect, "older and longer contents\n", 26);
    }
    close(fd);
    ck_assert_int_eq(lstat(own_link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(sm_test_count_temp_files(dir), 0);
    /* A device that refuses the bytes: the error is reported. */
    if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)) {
        ck_assert_status(sm_points_write_csv("/dev/full", x, 2, 2), SM_ERR_IO);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), strerror(ENOSPC)));
        ck_assert_int_eq(stat("/dev/full", &sb), 0);
        ck_assert(S_ISCHR(sb.st_mode));
    }
    sm_test_remove_tree(dir);
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

/* The reader with missing values: empty and NaN fields are missing (0 in
 * the data, 0 in the mask), infinities and text are still refused, and the
 * strict reader still refuses missing values. */
START_TEST(csv_column_names)
{
    sm_dataset *ds, *c;
    ck_assert_ok(parse(" x ,\"height (m)\",\n1,2,3\n", &ds));
    ck_assert_str_eq(sm_dataset_column_name(ds, 0), "x");
    ck_assert_str_eq(sm_dataset_column_name(ds, 1), "height (m)");
    ck_assert_str_eq(sm_dataset_column_name(ds, 2), "");
    ck_assert_ptr_null(sm_dataset_column_name(ds, 3));
    ck_assert_ok(sm_dataset_clone(ds, &c));
    ck_assert_str_eq(sm_dataset_column_name(c, 1), "height (m)");
    ck_assert_ok(sm_dataset_standardize(c)); /* names stay */
    ck_assert_str_eq(sm_dataset_column_name(c, 0), "x");
    sm_dataset_free(c);
    sm_dataset_free(ds);
    /* A NUL byte in a name cannot cut the list of names short. */
    ck_assert_ok(sm_dataset_parse_csv(&ds, "a\0b,c\n1,2\n", 10));
    ck_assert_str_eq(sm_dataset_column_name(ds, 0), "a?b");
    ck_assert_str_eq(sm_dataset_column_name(ds, 1), "c");
    sm_dataset_free(ds);
    /* No header, no names. */
    ck_assert_ok(parse("1,2\n", &ds));
    ck_assert_ptr_null(sm_dataset_column_name(ds, 0));
    sm_dataset_free(ds);
    const float x[2] = {1, 2};
    ck_assert_ok(sm_dataset_new(&ds, x, 1, 2));
    ck_assert_ptr_null(sm_dataset_column_name(ds, 0));
    sm_dataset_free(ds);
}
END_TEST

START_TEST(csv_index_column)
{
    /* What pandas' to_csv writes without index=False. */
    static const char *const indexed[] = {
        ",a,b\n0,1.5,2\n1,3,4\n2,5,6\n",
        "Unnamed: 0,a,b\n0,1.5,2\n1,3,4\n2,5,6\n",
        "INDEX , a,b\n1,1.5,2\n2,3,4\n3,5,6\n",
        "\"\",\"a\",\"b\"\r\n0,1.5,2\r\n1,3,4\r\n2,5,6\r\n",
    };
    for (size_t k = 0; k < sizeof indexed / sizeof indexed[0]; k++) {
        const char *t = indexed[k];
        sm_dataset *ds = (sm_dataset *)&ds;
        ck_assert_status(parse(t, &ds), SM_ERR_PARSE);
        ck_assert_ptr_null(ds);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "column 1"));
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "index column"));
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "SM_CSV_INDEX_SKIP"));
        /* Skipped: the other columns, with their names. */
        ck_assert_ok(sm_dataset_parse_csv_ex(&ds, NULL, t, strlen(t), SM_CSV_INDEX_SKIP));
        ck_assert_uint_eq(sm_dataset_size(ds), 3);
        ck_assert_uint_eq(sm_dataset_dim(ds), 2);
        const float want[6] = {1.5f, 2, 3, 4, 5, 6};
        ck_assert_int_eq(memcmp(sm_dataset_data(ds), want, sizeof want), 0);
        ck_assert_str_eq(sm_dataset_column_name(ds, 0), "a");
        ck_assert_str_eq(sm_dataset_column_name(ds, 1), "b");
        sm_dataset_free(ds);
        /* Kept: read as data. */
        ck_assert_ok(sm_dataset_parse_csv_ex(&ds, NULL, t, strlen(t), SM_CSV_INDEX_KEEP));
        ck_assert_uint_eq(sm_dataset_dim(ds), 3);
        ck_assert_float_eq(sm_dataset_row(ds, 2)[0], (float)(k == 2 ? 3 : 2));
        sm_dataset_free(ds);
        /* The reader with missing values: the same. */
        unsigned char *mask;
        ck_assert_status(sm_dataset_parse_csv_missing(&ds, &mask, t, strlen(t)), SM_ERR_PARSE);
        ck_assert_ok(sm_dataset_parse_csv_ex(&ds, &mask, t, strlen(t), SM_CSV_INDEX_SKIP));
        ck_assert_uint_eq(sm_dataset_dim(ds), 2);
        ck_assert_int_eq(mask[0] + mask[1] + mask[2] + mask[3] + mask[4] + mask[5], 6);
        sm_free(mask);
        sm_dataset_free(ds);
    }
    /* Not an index column: read as before, whatever the flag. */
    static const char *const plain[] = {
        ",a,b\n0,1,2\n2,3,4\n",      /* not consecutive */
        ",a,b\n2,1,2\n3,3,4\n",      /* starts at 2 */
        "id,a,b\n0,1,2\n1,3,4\n",    /* a column named otherwise */
        ",\n0,1\n1,2\n",             /* no column has a name */
        "0,1\n1,2\n2,3\n",           /* no header */
        "index\n0\n1\n",             /* nothing would be left */
        ",a\n0,1\n,2\n",             /* a missing row number (reader with missing values) */
    };
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        const char *t = plain[k];
        sm_dataset *ds, *d2;
        unsigned char *mask;
        if (k + 1 < sizeof plain / sizeof plain[0]) {
            ck_assert_ok(parse(t, &ds));
            ck_assert_ok(sm_dataset_parse_csv_ex(&d2, NULL, t, strlen(t), SM_CSV_INDEX_SKIP));
            ck_assert_uint_eq(sm_dataset_dim(d2), sm_dataset_dim(ds));
            sm_dataset_free(d2);
            sm_dataset_free(ds);
        }
        ck_assert_ok(sm_dataset_parse_csv_ex(&ds, &mask, t, strlen(t), 0));
        sm_free(mask);
        sm_dataset_free(ds);
    }
    /* A file, through the file reader. */
    char path[] = "/tmp/sm-index-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("Unnamed: 0,x,y\n0,1,2\n1,3,4\n", f);
    fclose(f);
    sm_dataset *ds;
    ck_assert_status(sm_dataset_read_csv(&ds, path), SM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "Unnamed: 0"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), path));
    ck_assert_ok(sm_dataset_read_csv_ex(&ds, NULL, path, SM_CSV_INDEX_SKIP));
    ck_assert_uint_eq(sm_dataset_dim(ds), 2);
    ck_assert_str_eq(sm_dataset_column_name(ds, 1), "y");
    sm_dataset_free(ds);
    unlink(path);
}
END_TEST

START_TEST(csv_other_separators_are_named)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"x;y\n1;2\n3;4\n", "separated by ';'"},
        {"1;2\n3;4\n", "separated by ';'"},
        {"x\ty\n1\t2\n", "separated by tabs"},
        {"1\t2\n", "separated by tabs"},
        {"a,b\n1,2\n3;4\n", "separated by ';'"},   /* one bad line */
        {"a,b,c\n1,2;5,3\n", "separated by ';'"},  /* ragged row */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sm_dataset *ds;
        ck_assert_status(parse(cases[k].text, &ds), SM_ERR_PARSE);
        ck_assert_msg(strstr(sm_last_error(), cases[k].want) != NULL, "case %zu: %s", k,
                      sm_last_error());
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "expects commas"));
    }
    /* A tab beside a comma is a blank, and a failure without ';' or a tab
     * inside a field names no separator. */
    sm_dataset *ds;
    ck_assert_ok(parse("1,\t2\n", &ds));
    sm_dataset_free(ds);
    ck_assert_status(parse("1,\tx\n", &ds), SM_ERR_PARSE);
    ck_assert_ptr_null(strstr(sm_last_error(), "separated"));
}
END_TEST

START_TEST(csv_missing_values)
{
    const char text[] = "a,b,c\n1,,3\n nan ,2, 4\n,,\n";
    sm_dataset *ds;
    unsigned char *mask;
    ck_assert_ok(sm_dataset_parse_csv_missing(&ds, &mask, text, sizeof text - 1));
    ck_assert_uint_eq(sm_dataset_size(ds), 3);
    ck_assert_uint_eq(sm_dataset_dim(ds), 3);
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 1);
    const unsigned char want_mask[9] = {1, 0, 1, 0, 1, 1, 0, 0, 0};
    const float want[9] = {1, 0, 3, 0, 2, 4, 0, 0, 0};
    ck_assert_int_eq(memcmp(mask, want_mask, 9), 0);
    ck_assert_int_eq(memcmp(sm_dataset_data(ds), want, sizeof want), 0);
    sm_free(mask);
    sm_dataset_free(ds);
    /* A first line of empty fields is a header, as for the strict reader. */
    ck_assert_ok(sm_dataset_parse_csv_missing(&ds, &mask, " , \n1,\n", 7));
    ck_assert_uint_eq(sm_dataset_size(ds), 1);
    ck_assert_uint_eq(sm_dataset_header_rows(ds), 1);
    ck_assert_int_eq(mask[0] * 2 + mask[1], 2);
    sm_free(mask);
    sm_dataset_free(ds);
    /* Strict reader: unchanged. */
    ck_assert_status(sm_dataset_parse_csv(&ds, text, sizeof text - 1), SM_ERR_PARSE);
    ck_assert_status(sm_dataset_parse_csv(&ds, "1,nan\n", 6), SM_ERR_NONFINITE);
    /* Still refused. */
    ck_assert_status(sm_dataset_parse_csv_missing(&ds, &mask, "1,inf\n", 6), SM_ERR_NONFINITE);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_null(mask);
    ck_assert_status(sm_dataset_parse_csv_missing(&ds, &mask, "1,x\n", 4), SM_ERR_PARSE);
    ck_assert_status(sm_dataset_parse_csv_missing(&ds, &mask, "1,2\n3\n", 6), SM_ERR_PARSE);
    ck_assert_status(sm_dataset_parse_csv_missing(NULL, &mask, "1\n", 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_parse_csv_missing(&ds, NULL, "1\n", 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_parse_csv_missing(&ds, &mask, NULL, 2), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_read_csv_missing(&ds, &mask, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_read_csv_missing(&ds, NULL, "x.csv"), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_dataset_read_csv_missing(&ds, &mask, "/nonexistent/x.csv"), SM_ERR_IO);
    ck_assert_ptr_null(mask);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, new_copies_data);
    tcase_add_test(tc, standardize_floor_on_near_constant_columns);
    tcase_add_test(tc, csv_missing_values);
    tcase_add_test(tc, csv_column_names);
    tcase_add_test(tc, csv_index_column);
    tcase_add_test(tc, csv_other_separators_are_named);
    tcase_add_test(tc, new_rejects_bad_input);
    tcase_add_test(tc, new_finds_first_nonfinite_anywhere);
    tcase_add_test(tc, csv_header_comments_blank_lines);
    tcase_add_test(tc, csv_without_header);
    tcase_add_test(tc, csv_errors_name_line_and_column);
    tcase_add_test(tc, csv_ignores_program_locale);
    tcase_add_test(tc, csv_file_round_trip_is_exact);
    tcase_add_test(tc, csv_file_errors);
    tcase_add_test(tc, csv_byte_order_mark_is_skipped);
    tcase_add_test(tc, csv_numbers_of_any_length);
    tcase_add_test(tc, csv_malformed_first_row_is_an_error);
    tcase_add_test(tc, csv_header_rows_are_counted);
    tcase_add_test(tc, csv_line_endings);
    tcase_add_test(tc, csv_no_row_is_lost);
    tcase_add_test(tc, csv_refuses_special_files);
    tcase_add_test(tc, csv_write_refuses_nonfinite);
    tcase_add_test(tc, csv_write_failures_leave_no_temporary);
    tcase_add_test(tc, csv_write_to_special_files);
    tcase_add_test(tc, labels);
    tcase_add_test(tc, standardize_and_inverse);
    tcase_add_test(tc, standardize_gives_unit_moments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
