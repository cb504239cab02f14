/* Hostile arguments to every public function, header by header: NULL
 * handles and buffers, zero sizes, sizes whose byte counts overflow,
 * mismatched dimensions between handles, NaN and infinity in data, noise
 * levels, radii, rates and network parameters, out-of-range indices.
 *
 * Every failing call must return its documented status, leave a message for
 * sm_last_error() that starts with the function's name, and leave the
 * handles it was given usable: each section ends with valid calls on the
 * same handles. Functions that return values instead of statuses must give
 * 0 or NULL for a NULL handle or an index out of range.
 *
 * Sizes: the library cannot know how long a caller's buffer is, but a size
 * whose byte count exceeds what any object can have (SIZE_MAX / 2 floats,
 * n·dim overflowing) must be rejected before a buffer is touched.
 *
 * There are no options structs in the API (settings are typed setters on
 * the handles), so "an options struct with an unknown version" does not
 * apply; SM_ERR_VERSION is only used for model files (model.h, whose
 * damaged-file cases beyond those here are in test-model.c and fuzz/). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define HUGE_N (SIZE_MAX / 2) /* n·2 fits size_t, n·2·sizeof(float) does not */
#define BIG_A ((size_t)1 << 33)
#define BIG_B ((size_t)1 << 31) /* BIG_A·BIG_B overflows */

static void check_failure(sm_status got, sm_status want, const char *call, const char *file,
                          int line)
{
    const char *msg = sm_last_error();
    size_t len = strcspn(call, "(");
    ck_assert_msg(got == want, "%s:%d: %s returned %d (%s), expected %d (%s); last error: %s",
                  file, line, call, (int)got, sm_strerror(got), (int)want, sm_strerror(want),
                  msg);
    ck_assert_msg(strncmp(msg, call, len) == 0 && msg[len] == ':',
                  "%s:%d: %s: the message \"%s\" does not start with \"%.*s:\"", file, line,
                  call, msg, (int)len, call);
    ck_assert_msg(strlen(msg) > len + 2, "%s:%d: %s: empty detail in \"%s\"", file, line, call,
                  msg);
}

/* A call that must fail with `want` and a message naming the function. */
#define BAD(call, want)                                                        \
    do {                                                                       \
        sm_clear_error();                                                      \
        check_failure((call), (want), #call, __FILE__, __LINE__);              \
    } while (0)

/* The same for a constructor: *out must be NULL afterwards. */
#define BAD_NEW(out, call, want)                                               \
    do {                                                                       \
        (out) = (void *)&(out);                                                \
        BAD(call, want);                                                       \
        ck_assert_msg((out) == NULL, "%s: output not set to NULL", #call);     \
    } while (0)

/* A small, valid set of handles to aim bad calls at. */
typedef struct {
    sm_rng *rng;
    sm_dataset *ds; /* 2-D moons, standardized */
    sm_net *net;    /* dim 2 */
    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
    sm_sampler *smp;
} rig;

static void rig_make(rig *g)
{
    ck_assert_ok(sm_rng_new(&g->rng, 7));
    ck_assert_ok(sm_toy_moons(&g->ds, 200, 0.05, 1, g->rng));
    ck_assert_ok(sm_dataset_standardize(g->ds));
    ck_assert_ok(sm_net_new(&g->net, 2, 16, 2, g->rng));
    ck_assert_ok(sm_schedule_new_geometric(&g->sched, 1.0, 0.01, 10));
    ck_assert_ok(sm_optim_new_adam(&g->opt, sm_net_num_params(g->net), 1e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&g->tr, g->net, g->sched, g->opt, 32));
    ck_assert_ok(sm_sampler_new(&g->smp, g->net, g->sched));
    ck_assert_ok(sm_sampler_set_steps_per_scale(g->smp, 2));
}

static void rig_free(rig *g)
{
    sm_sampler_free(g->smp);
    sm_trainer_free(g->tr);
    sm_optim_free(g->opt);
    sm_schedule_free(g->sched);
    sm_net_free(g->net);
    sm_dataset_free(g->ds);
    sm_rng_free(g->rng);
}

/* Valid work on every handle of the rig: after bad calls it must all
 * still succeed, with finite results. */
static void rig_still_usable(rig *g)
{
    float x[16], y[16];
    memcpy(x, sm_dataset_data(g->ds), sizeof x);
    ck_assert_ok(sm_net_forward_sigma(g->net, x, 0.1f, 8, 2, y));
    for (int i = 0; i < 16; i++)
        ck_assert(isfinite(y[i]));
    double loss;
    ck_assert_ok(sm_trainer_step(g->tr, x, 8, 2, g->rng, &loss));
    ck_assert(isfinite(loss));
    ck_assert_ok(sm_trainer_fit(g->tr, g->ds, 2, g->rng, NULL, NULL, &loss));
    ck_assert_ok(sm_sampler_run(g->smp, g->rng, y, 8, 2));
    for (int i = 0; i < 16; i++)
        ck_assert(isfinite(y[i]));
    double cov;
    ck_assert_ok(sm_metric_coverage(sm_dataset_data(g->ds), sm_dataset_size(g->ds), y, 8, 2, 0.5,
                                    &cov, NULL));
}

/* ---- version.h, error.h ------------------------------------------------- */

START_TEST(version_and_error)
{
    ck_assert_ptr_nonnull(sm_version_string());
    ck_assert_uint_eq(sm_version_number(), SM_VERSION_NUMBER);
    ck_assert_ptr_nonnull(sm_blas_config());
    ck_assert_uint_gt(strlen(sm_blas_config()), 0);
    ck_assert_ptr_nonnull(sm_kernel_config());
    BAD(sm_net_set_kernels(NULL, SM_KERNELS_AUTO), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(sm_net_kernels(NULL));
    const int odd[] = {1, -13, 12345, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        ck_assert_str_eq(sm_strerror((sm_status)odd[i]), "unknown status");
    for (int s = SM_ERR_STATE; s <= 0; s++)
        ck_assert_str_ne(sm_strerror((sm_status)s), "unknown status");
    sm_clear_error();
    ck_assert_str_eq(sm_last_error(), "");
    BAD(sm_rng_new(NULL, 1), SM_ERR_INVALID_ARG);
    sm_clear_error();
    ck_assert_str_eq(sm_last_error(), "");
}
END_TEST

/* ---- rng.h -------------------------------------------------------------- */

START_TEST(rng_functions)
{
    sm_rng *r, *c;
    float f[8];
    ck_assert_ok(sm_rng_new(&r, 3));
    BAD(sm_rng_new(NULL, 1), SM_ERR_INVALID_ARG);
    sm_rng_free(NULL);
    BAD(sm_rng_reseed(NULL, 1), SM_ERR_INVALID_ARG);
    BAD_NEW(c, sm_rng_clone(NULL, &c), SM_ERR_INVALID_ARG);
    BAD(sm_rng_clone(r, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(c, sm_rng_split(NULL, &c), SM_ERR_INVALID_ARG);
    BAD(sm_rng_split(r, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_rng_jump(NULL), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_rng_next_u64(NULL), 0);
    ck_assert_double_eq(sm_rng_uniform(NULL), 0.0);
    ck_assert_uint_eq(sm_rng_below(NULL, 10), 0);
    ck_assert_uint_eq(sm_rng_below(r, 0), 0);
    ck_assert_double_eq(sm_rng_normal(NULL), 0.0);

    BAD(sm_rng_fill_normal(NULL, f, 8, 0, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, NULL, 8, 0, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, 8, 0, -1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, 8, 0, NAN), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, 8, 0, INFINITY), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, 8, NAN, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, 8, -INFINITY, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_normal(r, f, SIZE_MAX, 0, 1), SM_ERR_OVERFLOW);
    BAD(sm_rng_fill_normal(r, f, HUGE_N, 0, 1), SM_ERR_OVERFLOW);
    BAD(sm_rng_fill_uniform(NULL, f, 8, 0, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_uniform(r, NULL, 8, 0, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_uniform(r, f, 8, 1, 0), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_uniform(r, f, 8, NAN, 1), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_uniform(r, f, 8, 0, INFINITY), SM_ERR_INVALID_ARG);
    BAD(sm_rng_fill_uniform(r, f, SIZE_MAX, 0, 1), SM_ERR_OVERFLOW);
    /* n = 0 with no buffer is a valid no-op. */
    ck_assert_ok(sm_rng_fill_normal(r, NULL, 0, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, NULL, 0, 0, 1));

    /* Still the same stream: a clone made before a bad call matches. */
    ck_assert_ok(sm_rng_clone(r, &c));
    BAD(sm_rng_fill_normal(r, f, 8, 0, NAN), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_rng_next_u64(r), sm_rng_next_u64(c));
    ck_assert_ok(sm_rng_fill_uniform(r, f, 8, -1, 1));
    for (int i = 0; i < 8; i++)
        ck_assert(f[i] >= -1 && f[i] < 1);
    sm_rng_free(c);
    sm_rng_free(r);
}
END_TEST

/* ---- dataset.h ---------------------------------------------------------- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

START_TEST(dataset_functions)
{
    ck_assert_ptr_nonnull(mkdtemp(strcpy(tmpdir, "/tmp/sm-hostile-XXXXXX")));
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    sm_dataset *ds, *d2;
    BAD(sm_dataset_new(NULL, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_new(&ds, NULL, 4, 2), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_new(&ds, x, 0, 2), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_new(&ds, x, 4, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_new(&ds, x, SIZE_MAX, 2), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_dataset_new(&ds, x, HUGE_N, 2), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_dataset_new(&ds, x, BIG_A, BIG_B), SM_ERR_OVERFLOW);
    x[5] = NAN;
    BAD_NEW(ds, sm_dataset_new(&ds, x, 4, 2), SM_ERR_NONFINITE);
    x[5] = -INFINITY;
    BAD_NEW(ds, sm_dataset_new(&ds, x, 4, 2), SM_ERR_NONFINITE);
    x[5] = 5;

    /* CSV input. */
    BAD(sm_dataset_read_csv(NULL, "x.csv"), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_read_csv(&ds, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_read_csv(&ds, "/nonexistent-sm-dir/x.csv"), SM_ERR_IO);
    BAD_NEW(ds, sm_dataset_read_csv(&ds, tmpdir), SM_ERR_IO); /* a directory */
    FILE *f = fopen(tmp_path("empty.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    BAD_NEW(ds, sm_dataset_read_csv(&ds, tmp_path("empty.csv")), SM_ERR_PARSE);
    f = fopen(tmp_path("nan.csv"), "w");
    fputs("x,y\n1,2\n3,nan\n", f);
    fclose(f);
    BAD_NEW(ds, sm_dataset_read_csv(&ds, tmp_path("nan.csv")), SM_ERR_NONFINITE);
    BAD(sm_dataset_parse_csv(NULL, "1,2\n", 4), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, NULL, 4), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, NULL, SIZE_MAX), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, "", 0), SM_ERR_PARSE);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, "1,2\n3\n", 6), SM_ERR_PARSE);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, "1,2\n3,4\0,5\n", 11), SM_ERR_PARSE);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, "1,1e60\n", 7), SM_ERR_NONFINITE);
    BAD_NEW(ds, sm_dataset_parse_csv(&ds, "1,-inf\n", 7), SM_ERR_NONFINITE);
    /* The readers with flags. */
    BAD(sm_dataset_parse_csv_ex(NULL, NULL, "1\n", 2, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, NULL, NULL, 2, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, NULL, "1\n", 2, 0x80), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, NULL, "1\n", 2,
                                        SM_CSV_INDEX_SKIP | SM_CSV_INDEX_KEEP),
            SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, NULL, ",a\n0,nan\n1,2\n", 14, SM_CSV_INDEX_SKIP),
            SM_ERR_NONFINITE);
    BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, NULL, ",a\n0,1\n1,2\n", 12, 0), SM_ERR_PARSE);
    BAD(sm_dataset_read_csv_ex(NULL, NULL, "x.csv", 0), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_read_csv_ex(&ds, NULL, NULL, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_dataset_read_csv_ex(&ds, NULL, tmpdir, 0), SM_ERR_IO);
    BAD_NEW(ds, sm_dataset_read_csv_ex(&ds, NULL, tmp_path("nan.csv"), 4), SM_ERR_INVALID_ARG);
    {
        unsigned char *m = (unsigned char *)&m;
        BAD_NEW(ds, sm_dataset_parse_csv_ex(&ds, &m, "1;2\n", 4, 0), SM_ERR_PARSE);
        ck_assert_ptr_null(m);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), "';'"));
        m = (unsigned char *)&m;
        BAD_NEW(ds, sm_dataset_read_csv_ex(&ds, &m, "/nonexistent-sm-dir/x.csv", 0),
                SM_ERR_IO);
        ck_assert_ptr_null(m);
    }
    ck_assert_ptr_null(sm_dataset_column_name(NULL, 0));
    char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 37 + 11); /* arbitrary bytes, NULs and newlines included */
    sm_status st = sm_dataset_parse_csv(&ds, junk, sizeof junk);
    ck_assert(st == SM_ERR_PARSE || st == SM_ERR_NONFINITE);
    ck_assert_ptr_null(ds);

    ck_assert_ok(sm_dataset_new(&ds, x, 4, 2));
    /* CSV output. */
    BAD(sm_dataset_write_csv(NULL, tmp_path("o.csv")), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_write_csv(ds, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_write_csv(ds, "/nonexistent-sm-dir/o.csv"), SM_ERR_IO);
    BAD(sm_points_write_csv(NULL, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_points_write_csv(tmp_path("o.csv"), NULL, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_points_write_csv(tmp_path("o.csv"), x, 4, 0), SM_ERR_INVALID_ARG);
    BAD(sm_points_write_csv(tmp_path("o.csv"), x, HUGE_N, 2), SM_ERR_OVERFLOW);
    BAD(sm_points_write_csv(tmp_path("o.csv"), x, BIG_A, BIG_B), SM_ERR_OVERFLOW);
    BAD(sm_points_write_csv("/nonexistent-sm-dir/o.csv", x, 4, 2), SM_ERR_IO);

    BAD(sm_dataset_clone(ds, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(d2, sm_dataset_clone(NULL, &d2), SM_ERR_INVALID_ARG);
    sm_dataset_free(NULL);
    ck_assert_uint_eq(sm_dataset_size(NULL), 0);
    ck_assert_uint_eq(sm_dataset_dim(NULL), 0);
    ck_assert_ptr_null(sm_dataset_data(NULL));
    ck_assert_ptr_null(sm_dataset_row(NULL, 0));
    ck_assert_ptr_null(sm_dataset_row(ds, 4));
    ck_assert_ptr_null(sm_dataset_row(ds, SIZE_MAX));
    ck_assert_ptr_null(sm_dataset_labels(NULL));
    ck_assert_uint_eq(sm_dataset_num_labels(NULL), 0);
    ck_assert_int_eq(sm_dataset_is_standardized(NULL), 0);

    int32_t lab[4] = {0, 1, 2, -1};
    BAD(sm_dataset_set_labels(NULL, lab, 4), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_set_labels(ds, lab, 3), SM_ERR_SHAPE);
    BAD(sm_dataset_set_labels(ds, lab, SIZE_MAX), SM_ERR_SHAPE);
    BAD(sm_dataset_set_labels(ds, lab, 4), SM_ERR_INVALID_ARG); /* negative */
    lab[3] = INT32_MIN;
    BAD(sm_dataset_set_labels(ds, lab, 4), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(sm_dataset_labels(ds)); /* nothing attached by the failures */

    BAD(sm_dataset_standardize(NULL), SM_ERR_INVALID_ARG);
    float mean[2], sd[2];
    BAD(sm_dataset_get_standardization(NULL, mean, sd, 2), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_get_standardization(ds, mean, sd, 3), SM_ERR_SHAPE);
    BAD(sm_dataset_get_standardization(ds, mean, sd, SIZE_MAX), SM_ERR_SHAPE);
    float p[4] = {1, 2, 3, 4};
    BAD(sm_dataset_standardize_points(NULL, p, 2, 2), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_standardize_points(ds, NULL, 2, 2), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_standardize_points(ds, p, 2, 3), SM_ERR_SHAPE);
    BAD(sm_dataset_standardize_points(ds, p, HUGE_N, 2), SM_ERR_OVERFLOW);
    BAD(sm_dataset_standardize_points(ds, p, SIZE_MAX, 2), SM_ERR_OVERFLOW);
    BAD(sm_dataset_unstandardize_points(NULL, p, 2, 2), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_unstandardize_points(ds, NULL, 2, 2), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_unstandardize_points(ds, p, 2, 1), SM_ERR_SHAPE);
    BAD(sm_dataset_unstandardize_points(ds, p, HUGE_N, 2), SM_ERR_OVERFLOW);
    ck_assert_float_eq(p[0], 1.0f); /* untouched by the failures */
    ck_assert_float_eq(p[3], 4.0f);

    /* Still usable. */
    lab[3] = 3;
    ck_assert_ok(sm_dataset_set_labels(ds, lab, 4));
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 4);
    ck_assert_ok(sm_dataset_standardize(ds));
    ck_assert_ok(sm_dataset_get_standardization(ds, mean, sd, 2));
    ck_assert_ok(sm_dataset_standardize_points(ds, p, 2, 2));
    ck_assert_ok(sm_dataset_unstandardize_points(ds, p, 2, 2));
    ck_assert_float_eq_tol(p[3], 4.0f, 1e-5f);
    ck_assert_ok(sm_dataset_clone(ds, &d2));
    ck_assert_ok(sm_dataset_write_csv(d2, tmp_path("o.csv")));
    sm_dataset_free(d2);
    ck_assert_ok(sm_dataset_read_csv(&d2, tmp_path("o.csv")));
    ck_assert_uint_eq(sm_dataset_size(d2), 4);
    sm_dataset_free(d2);
    sm_dataset_free(ds);
    unlink(tmp_path("o.csv"));
    unlink(tmp_path("nan.csv"));
    unlink(tmp_path("empty.csv"));
    rmdir(tmpdir);
}
END_TEST

/* ---- toydata.h ---------------------------------------------------------- */

START_TEST(toydata_functions)
{
    sm_rng *r;
    sm_dataset *ds;
    ck_assert_ok(sm_rng_new(&r, 4));
    const double bad_nonneg[] = {-1.0, NAN, INFINITY, -INFINITY};

    BAD(sm_toy_moons(NULL, 10, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_moons(&ds, 10, 0.1, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_moons(&ds, 0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_moons(&ds, SIZE_MAX, 0.1, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_moons(&ds, HUGE_N, 0.1, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_moons(&ds, 10, 1e300, 1, r), SM_ERR_INVALID_ARG); /* beyond float */
    for (int i = 0; i < 4; i++) {
        double v = bad_nonneg[i];
        BAD_NEW(ds, sm_toy_moons(&ds, 10, v, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_circles(&ds, 10, v, 0.5, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, NULL, 3, v, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_swiss_roll(&ds, 10, v, NULL, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_spirals(&ds, 10, v, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_eight_gaussians(&ds, 10, 2.0, v, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, 5, v, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
        BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, 5, 0.3, v, 0.25, 1, r), SM_ERR_INVALID_ARG);
    }

    BAD(sm_toy_circles(NULL, 10, 0.1, 0.5, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_circles(&ds, 10, 0.1, 0.5, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_circles(&ds, 0, 0.1, 0.5, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_circles(&ds, SIZE_MAX, 0.1, 0.5, 1, r), SM_ERR_OVERFLOW);
    const double bad_factor[] = {0.0, 1.0, -0.5, 2.0, NAN, INFINITY};
    for (int i = 0; i < 6; i++)
        BAD_NEW(ds, sm_toy_circles(&ds, 10, 0.1, bad_factor[i], 1, r), SM_ERR_INVALID_ARG);

    float c2[4] = {0, 0, 5, 5};
    BAD(sm_toy_blobs(NULL, 10, 2, c2, 2, 1.0, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, c2, 2, 1.0, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 0, 2, c2, 2, 1.0, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 0, c2, 2, 1.0, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, c2, 0, 1.0, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, NULL, (size_t)INT32_MAX + 1, 1.0, 1, r),
            SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, SIZE_MAX / 4, c2, 8, 1.0, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, HUGE_N, NULL, 1, 1.0, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_blobs(&ds, SIZE_MAX, 2, c2, 2, 1.0, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, c2, 2, 1e300, 1, r), SM_ERR_INVALID_ARG);
    c2[3] = NAN;
    BAD_NEW(ds, sm_toy_blobs(&ds, 10, 2, c2, 2, 1.0, 1, r), SM_ERR_INVALID_ARG);
    c2[3] = 5;

    double w2[2] = {1, 1}, s2[2] = {1, 1};
    BAD(sm_toy_gaussian_mixture(NULL, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 0, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 0, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, NULL, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 0, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, (size_t)INT32_MAX + 1, r),
            SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, SIZE_MAX / 4, c2, s2, w2, 2, r),
            SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, SIZE_MAX / 2, c2, s2, w2, 3, r),
            SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, SIZE_MAX, 2, c2, s2, w2, 2, r), SM_ERR_OVERFLOW);
    for (int i = 0; i < 4; i++) {
        s2[1] = bad_nonneg[i];
        BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
        s2[1] = 1;
        w2[0] = bad_nonneg[i];
        BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
        w2[0] = 1;
    }
    w2[0] = w2[1] = 0; /* no positive weight */
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    w2[0] = w2[1] = DBL_MAX; /* the sum overflows */
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    w2[0] = w2[1] = 1;
    c2[0] = INFINITY;
    BAD_NEW(ds, sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r), SM_ERR_INVALID_ARG);
    c2[0] = 0;

    float t[10];
    BAD(sm_toy_swiss_roll(NULL, 10, 0.1, t, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_swiss_roll(&ds, 10, 0.1, t, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_swiss_roll(&ds, 0, 0.1, t, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_swiss_roll(&ds, SIZE_MAX, 0.1, NULL, r), SM_ERR_OVERFLOW);

    BAD(sm_toy_spirals(NULL, 10, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_spirals(&ds, 10, 0.1, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_spirals(&ds, 0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_spirals(&ds, HUGE_N, 0.1, 1, r), SM_ERR_OVERFLOW);

    BAD(sm_toy_checkerboard(NULL, 10, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_checkerboard(&ds, 10, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_checkerboard(&ds, 0, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_checkerboard(&ds, SIZE_MAX, 1, r), SM_ERR_OVERFLOW);

    BAD(sm_toy_eight_gaussians(NULL, 10, 2.0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_eight_gaussians(&ds, 10, 2.0, 0.1, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_eight_gaussians(&ds, 0, 2.0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_eight_gaussians(&ds, SIZE_MAX, 2.0, 0.1, 1, r), SM_ERR_OVERFLOW);
    const double bad_radius[] = {0.0, -1.0, NAN, INFINITY, 1e300};
    for (int i = 0; i < 5; i++)
        BAD_NEW(ds, sm_toy_eight_gaussians(&ds, 10, bad_radius[i], 0.1, 1, r),
                SM_ERR_INVALID_ARG);

    BAD(sm_toy_pinwheel(NULL, 10, 5, 0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, 5, 0.3, 0.1, 0.25, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_pinwheel(&ds, 0, 5, 0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_pinwheel(&ds, SIZE_MAX, 5, 0.3, 0.1, 0.25, 1, r), SM_ERR_OVERFLOW);
    BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, 0, 0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, SIZE_MAX, 0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    const double bad_rate[] = {NAN, INFINITY, -INFINITY, 1e308};
    for (int i = 0; i < 4; i++)
        BAD_NEW(ds, sm_toy_pinwheel(&ds, 10, 5, 0.3, 0.1, bad_rate[i], 1, r),
                SM_ERR_INVALID_ARG);

    /* The generator is still usable and every generator still works. */
    ck_assert_ok(sm_toy_moons(&ds, 10, 0.1, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_circles(&ds, 10, 0.1, 0.5, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_blobs(&ds, 10, 2, c2, 2, 1.0, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_gaussian_mixture(&ds, 10, 2, c2, s2, w2, 2, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_swiss_roll(&ds, 10, 0.1, t, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_spirals(&ds, 10, 0.1, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_checkerboard(&ds, 10, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_eight_gaussians(&ds, 10, 2.0, 0.1, 1, r));
    sm_dataset_free(ds);
    ck_assert_ok(sm_toy_pinwheel(&ds, 10, 5, 0.3, 0.1, 0.25, 1, r));
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

/* ---- metrics.h ---------------------------------------------------------- */

START_TEST(metrics_functions)
{
    enum { N = 40 };
    float real[N * 2], gen[N * 2], bad_gen[N * 2];
    int32_t lab[N];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 5));
    ck_assert_ok(sm_rng_fill_normal(r, real, N * 2, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, gen, N * 2, 0, 1));
    for (int i = 0; i < N * 2; i++)
        bad_gen[i] = i % 2 ? NAN : INFINITY;
    for (int i = 0; i < N; i++)
        lab[i] = i % 3;
    double a = -7, b = -7, c = -7, d = -7, h = -7;
    size_t nf = 12345;
    const double bad_radius[] = {0.0, -1.0, NAN, INFINITY};

    /* The arguments every metric shares. */
    BAD(sm_metric_coverage(NULL, N, gen, N, 2, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(real, N, NULL, N, 2, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(real, 0, gen, N, 2, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(real, N, gen, 0, 2, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(real, N, gen, N, 0, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(real, SIZE_MAX, gen, N, 2, 0.5, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_coverage(real, N, gen, HUGE_N, 2, 0.5, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_coverage(real, BIG_A, gen, N, BIG_B, 0.5, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_coverage(real, N, gen, N, 2, 0.5, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(gen, N, real, N, 2, 0.5, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage(bad_gen, N, gen, N, 2, 0.5, &a, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_precision(NULL, N, gen, N, 2, 0.5, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_precision(real, N, gen, N, 2, 0.5, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_precision(real, N, gen, HUGE_N, 2, 0.5, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_precision(bad_gen, N, gen, N, 2, 0.5, &a, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_coverage_precision(real, N, gen, N, 2, 0.5, NULL, NULL, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage_precision(real, N, NULL, N, 2, 0.5, &a, &b, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_coverage_precision(real, 0, gen, N, 2, 0.5, &a, &b, &nf), SM_ERR_INVALID_ARG);
    for (int i = 0; i < 4; i++) {
        double rad = bad_radius[i];
        BAD(sm_metric_coverage(real, N, gen, N, 2, rad, &a, &nf), SM_ERR_INVALID_ARG);
        BAD(sm_metric_precision(real, N, gen, N, 2, rad, &a, &nf), SM_ERR_INVALID_ARG);
        BAD(sm_metric_coverage_precision(real, N, gen, N, 2, rad, &a, &b, &nf),
            SM_ERR_INVALID_ARG);
        BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, rad, &a, 3, &nf),
            SM_ERR_INVALID_ARG);
    }
    ck_assert(a == -7 && b == -7 && nf == 12345); /* outputs untouched by failures */

    double per[3];
    BAD(sm_metric_per_mode_coverage(real, NULL, N, gen, N, 2, 0.5, per, 3, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, NULL, 3, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, 0, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, 2, &nf),
        SM_ERR_INVALID_ARG); /* label 2 out of range */
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, SIZE_MAX, &nf),
        SM_ERR_OVERFLOW);
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, HUGE_N, &nf),
        SM_ERR_OVERFLOW);
    BAD(sm_metric_per_mode_coverage(NULL, lab, N, gen, N, 2, 0.5, per, 3, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_per_mode_coverage(real, lab, SIZE_MAX, gen, N, 2, 0.5, per, 3, &nf),
        SM_ERR_OVERFLOW);
    BAD(sm_metric_per_mode_coverage(bad_gen, lab, N, gen, N, 2, 0.5, per, 3, &nf),
        SM_ERR_NONFINITE);
    lab[5] = -1;
    BAD(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, 3, &nf),
        SM_ERR_INVALID_ARG);
    lab[5] = 2;

    BAD(sm_metric_prdc(NULL, N, gen, N, 2, 0, 0, &a, &b, &c, &d, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, NULL, N, 2, 0, 0, &a, &b, &c, &d, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, gen, N, 0, 0, 0, &a, &b, &c, &d, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, gen, HUGE_N, 2, 0, 0, &a, &b, &c, &d, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_prdc(real, 3, gen, N, 2, 3, 0, &a, NULL, NULL, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, 5, gen, N, 2, 0, 5, NULL, NULL, &c, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, gen, N, 2, SIZE_MAX, 0, &a, &b, NULL, NULL, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, gen, N, 2, 0, SIZE_MAX, NULL, NULL, NULL, &d, &nf),
        SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, gen, 3, 2, 3, 0, NULL, &b, NULL, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_prdc(real, N, bad_gen, N, 2, 0, 0, NULL, &b, NULL, NULL, &nf),
        SM_ERR_NONFINITE); /* recall needs finite generated points */
    BAD(sm_metric_prdc(bad_gen, N, gen, N, 2, 0, 0, &a, &b, &c, &d, &nf), SM_ERR_NONFINITE);

    sm_rng *no_rng = NULL;
    BAD(sm_metric_energy_distance(real, N, gen, N, 2, 0, NULL, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_energy_distance(NULL, N, gen, N, 2, 0, NULL, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_energy_distance(real, N, gen, 0, 2, 0, NULL, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_energy_distance(real, N, gen, HUGE_N, 2, 0, NULL, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_energy_distance(real, N, bad_gen, N, 2, 0, NULL, &a, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_energy_distance(bad_gen, N, gen, N, 2, 0, NULL, &a, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_energy_distance(real, N, gen, N, 2, 10, no_rng, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_mmd_rbf(real, N, gen, N, 2, 0, 0, NULL, NULL, &h, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_mmd_rbf(real, N, NULL, N, 2, 0, 0, NULL, &a, &h, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_mmd_rbf(real, N, gen, N, 0, 0, 0, NULL, &a, &h, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_mmd_rbf(real, SIZE_MAX, gen, N, 2, 0, 0, NULL, &a, &h, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_mmd_rbf(real, N, bad_gen, N, 2, 0, 0, NULL, &a, &h, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_mmd_rbf(real, N, gen, N, 2, 0, 10, no_rng, &a, &h, &nf), SM_ERR_INVALID_ARG);
    const double bad_bw[] = {NAN, INFINITY, -INFINITY, 1e-300};
    for (int i = 0; i < 4; i++)
        BAD(sm_metric_mmd_rbf(real, N, gen, N, 2, bad_bw[i], 0, NULL, &a, &h, &nf),
            SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, N, gen, N, 2, NULL, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(NULL, N, gen, N, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, N, NULL, N, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, 0, gen, N, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, N, gen, 0, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, N, gen, N, 0, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, 1, gen, N, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, N, gen, 1, 2, &a, &nf), SM_ERR_INVALID_ARG);
    BAD(sm_metric_frechet_distance(real, SIZE_MAX, gen, N, 2, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_frechet_distance(real, N, gen, HUGE_N, 2, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_frechet_distance(real, BIG_A, gen, N, BIG_B, &a, &nf), SM_ERR_OVERFLOW);
    BAD(sm_metric_frechet_distance(bad_gen, N, gen, N, 2, &a, &nf), SM_ERR_NONFINITE);
    BAD(sm_metric_frechet_distance(real, N, bad_gen, N, 2, &a, &nf), SM_ERR_NONFINITE);
    ck_assert(a == -7 && b == -7 && c == -7 && d == -7 && h == -7 && nf == 12345);

    /* Non-finite generated points are counted, not an error, where the
     * metric defines them. */
    ck_assert_ok(sm_metric_coverage(real, N, bad_gen, N, 2, 0.5, &a, &nf));
    ck_assert_double_eq(a, 0.0);
    ck_assert_uint_eq(nf, N);
    ck_assert_ok(sm_metric_precision(real, N, bad_gen, N, 2, 0.5, &b, &nf));
    ck_assert_double_eq(b, 0.0);
    /* Valid calls still work. */
    ck_assert_ok(sm_metric_coverage_precision(real, N, gen, N, 2, 0.5, &a, &b, &nf));
    ck_assert_uint_eq(nf, 0);
    ck_assert_ok(sm_metric_per_mode_coverage(real, lab, N, gen, N, 2, 0.5, per, 3, NULL));
    ck_assert_ok(sm_metric_prdc(real, N, gen, N, 2, 0, 0, &a, &b, &c, &d, NULL));
    ck_assert_ok(sm_metric_energy_distance(real, N, gen, N, 2, 10, r, &a, NULL));
    ck_assert_ok(sm_metric_mmd_rbf(real, N, gen, N, 2, 0, 10, r, &a, &h, NULL));
    ck_assert(isfinite(a) && h > 0);
    /* Fréchet distance: NaN rows of gen are counted and left out, down to
     * the two finite rows a covariance needs. */
    float part_gen[N * 2];
    memcpy(part_gen, gen, sizeof part_gen);
    for (int i = 0; i < N - 2; i++)
        part_gen[2 * i + i % 2] = i % 3 ? NAN : -INFINITY;
    nf = 0;
    ck_assert_ok(sm_metric_frechet_distance(real, N, part_gen, N, 2, &a, &nf));
    ck_assert_uint_eq(nf, N - 2);
    ck_assert(isfinite(a) && a >= 0);
    part_gen[2 * (N - 1)] = NAN;
    BAD(sm_metric_frechet_distance(real, N, part_gen, N, 2, &a, &nf), SM_ERR_NONFINITE);
    ck_assert_ok(sm_metric_frechet_distance(real, N, gen, N, 2, &a, &nf));
    ck_assert(isfinite(a) && a > 0 && nf == 0);
    sm_rng_free(r);
}
END_TEST

/* ---- schedule.h --------------------------------------------------------- */

static sm_status karras7(sm_schedule **out, double smax, double smin, size_t levels)
{
    return sm_schedule_new_karras(out, smax, smin, levels, 7.0);
}

START_TEST(schedule_functions)
{
    sm_schedule *s;
    sm_dataset *ds;
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 6));
    typedef sm_status (*ladder_fn)(sm_schedule **, double, double, size_t);
    const ladder_fn ladders[3] = {sm_schedule_new_geometric, sm_schedule_new_linear, karras7};
    const char *names[3] = {"sm_schedule_new_geometric", "sm_schedule_new_linear",
                            "sm_schedule_new_karras"};
    /* {sigma_max, sigma_min, levels}: each invalid. */
    const struct {
        double smax, smin;
        size_t levels;
    } bad[] = {
        {1.0, 0.01, 0}, {1.0, 0.01, 1}, {1.0, 0.01, SIZE_MAX}, {0.01, 1.0, 10},
        {1.0, 1.0, 10}, {1.0, 0.0, 10}, {1.0, -0.5, 10}, {NAN, 0.01, 10},
        {1.0, NAN, 10}, {INFINITY, 0.01, 10}, {1.0, -INFINITY, 10},
        {1e300, 0.01, 10},  /* σ₁ beyond float */
        {1.0, 1e-300, 10},  /* σ_L rounds to 0 in float */
        {1.0, 1.0 - 1e-12, 3}, /* levels not distinct in float */
    };
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            s = (sm_schedule *)&s;
            sm_clear_error();
            sm_status st = ladders[k](&s, bad[i].smax, bad[i].smin, bad[i].levels);
            char call[128];
            snprintf(call, sizeof call, "%s(case %zu)", names[k], i);
            check_failure(st, SM_ERR_INVALID_ARG, call, __FILE__, __LINE__);
            ck_assert_ptr_null(s);
        }
        sm_clear_error();
        char call[128];
        snprintf(call, sizeof call, "%s(NULL, ...)", names[k]);
        check_failure(ladders[k](NULL, 1.0, 0.01, 10), SM_ERR_INVALID_ARG, call, __FILE__,
                      __LINE__);
    }

    float sig[4] = {1.0f, 0.5f, 0.25f, 0.1f};
    BAD(sm_schedule_new_from_array(NULL, sig, 4), SM_ERR_INVALID_ARG);
    BAD_NEW(s, sm_schedule_new_from_array(&s, NULL, 4), SM_ERR_INVALID_ARG);
    BAD_NEW(s, sm_schedule_new_from_array(&s, sig, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(s, sm_schedule_new_from_array(&s, sig, SIZE_MAX), SM_ERR_OVERFLOW);
    BAD_NEW(s, sm_schedule_new_from_array(&s, sig, HUGE_N), SM_ERR_OVERFLOW);
    const float bad_sig[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        sig[2] = bad_sig[i];
        BAD_NEW(s, sm_schedule_new_from_array(&s, sig, 4), SM_ERR_NONFINITE);
    }
    const float bad_order[] = {0.0f, -0.25f, 0.5f, 0.75f};
    for (int i = 0; i < 4; i++) {
        sig[2] = bad_order[i];
        BAD_NEW(s, sm_schedule_new_from_array(&s, sig, 4), SM_ERR_INVALID_ARG);
    }
    sig[2] = 0.25f;

    sm_schedule_free(NULL);
    ck_assert_uint_eq(sm_schedule_levels(NULL), 0);
    ck_assert_float_eq(sm_schedule_sigma(NULL, 0), 0.0f);
    ck_assert_ok(sm_schedule_new_from_array(&s, sig, 4));
    ck_assert_float_eq(sm_schedule_sigma(s, 4), 0.0f);
    ck_assert_float_eq(sm_schedule_sigma(s, SIZE_MAX), 0.0f);
    float out[4] = {0};
    BAD(sm_schedule_get_sigmas(NULL, out, 4), SM_ERR_INVALID_ARG);
    BAD(sm_schedule_get_sigmas(s, NULL, 4), SM_ERR_INVALID_ARG);
    BAD(sm_schedule_get_sigmas(s, out, 3), SM_ERR_SHAPE);
    BAD(sm_schedule_get_sigmas(s, out, SIZE_MAX), SM_ERR_SHAPE);
    ck_assert_float_eq(out[0], 0.0f);

    double smax = -1;
    ck_assert_ok(sm_toy_moons(&ds, 2500, 0.05, 1, r));
    BAD(sm_schedule_suggest_sigma_max(NULL, r, &smax), SM_ERR_INVALID_ARG);
    BAD(sm_schedule_suggest_sigma_max(ds, r, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_schedule_suggest_sigma_max(ds, NULL, &smax), SM_ERR_INVALID_ARG); /* n > 2000 */
    ck_assert_double_eq(smax, -1);

    /* Still usable. */
    ck_assert_ok(sm_schedule_get_sigmas(s, out, 4));
    ck_assert_float_eq(out[3], 0.1f);
    ck_assert_ok(sm_schedule_suggest_sigma_max(ds, r, &smax));
    ck_assert(smax > 1.0 && isfinite(smax));
    sm_schedule_free(s);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

/* ---- net.h -------------------------------------------------------------- */

START_TEST(net_functions)
{
    rig g;
    rig_make(&g);
    sm_net *n2, *net = g.net;
    const size_t np = sm_net_num_params(net);
    float *before = malloc(np * sizeof(float));
    memcpy(before, sm_net_params(net), np * sizeof(float));

    BAD(sm_net_new(NULL, 2, 8, 1, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_new(&n2, 2, 8, 1, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_new(&n2, 0, 8, 1, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_new(&n2, 2, 0, 1, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_new(&n2, 2, 8, 0, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_new(&n2, SIZE_MAX, 8, 1, g.rng), SM_ERR_OVERFLOW);
    BAD_NEW(n2, sm_net_new(&n2, 2, SIZE_MAX, 1, g.rng), SM_ERR_OVERFLOW);
    BAD_NEW(n2, sm_net_new(&n2, 2, 8, SIZE_MAX, g.rng), SM_ERR_OVERFLOW);
    BAD_NEW(n2, sm_net_new(&n2, 2, (size_t)1 << 29, (size_t)1 << 29, g.rng), SM_ERR_OVERFLOW);
    BAD(sm_net_clone(net, NULL), SM_ERR_INVALID_ARG);
    BAD_NEW(n2, sm_net_clone(NULL, &n2), SM_ERR_INVALID_ARG);
    sm_net_free(NULL);
    ck_assert_uint_eq(sm_net_dim(NULL), 0);
    ck_assert_uint_eq(sm_net_width(NULL), 0);
    ck_assert_uint_eq(sm_net_depth(NULL), 0);
    ck_assert_uint_eq(sm_net_num_params(NULL), 0);
    ck_assert_uint_eq(sm_net_threads(NULL), 0);
    ck_assert_ptr_null(sm_net_params(NULL));
    ck_assert_ptr_null(sm_net_grads(NULL));

    size_t w = 99;
    BAD(sm_net_layer(NULL, 0, &w, NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_layer(net, 3, &w, NULL, NULL, NULL), SM_ERR_INVALID_ARG); /* depth 2 */
    BAD(sm_net_layer(net, SIZE_MAX, &w, NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(w, 99);

    ck_assert_ok(sm_net_new(&n2, 3, 16, 2, g.rng)); /* another architecture */
    BAD(sm_net_copy_params(NULL, net), SM_ERR_INVALID_ARG);
    BAD(sm_net_copy_params(net, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_copy_params(net, n2), SM_ERR_SHAPE);
    BAD(sm_net_copy_params(n2, net), SM_ERR_SHAPE);

    BAD(sm_net_set_threads(NULL, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_threads(net, 0), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_threads(net, 257), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_threads(net, SIZE_MAX), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_net_threads(net), 1);
    BAD(sm_net_reserve(NULL, 8), SM_ERR_INVALID_ARG);
    BAD(sm_net_reserve(net, 0), SM_ERR_INVALID_ARG);
    BAD(sm_net_reserve(net, SIZE_MAX), SM_ERR_OVERFLOW);
    BAD(sm_net_reserve(net, (size_t)1 << 30), SM_ERR_OVERFLOW);

    /* Passes: x is 4 × 2, sigma 4 values. */
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f}, y[8];
    const float bad_s[] = {0.0f, -1.0f, NAN, INFINITY};
    BAD(sm_net_forward(NULL, x, s, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward(net, NULL, s, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward(net, x, NULL, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward(net, x, s, 4, 2, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward(net, x, s, 4, 3, y), SM_ERR_SHAPE);
    BAD(sm_net_forward(net, x, s, 4, 0, y), SM_ERR_SHAPE);
    BAD(sm_net_forward(net, x, s, SIZE_MAX, 2, y), SM_ERR_OVERFLOW);
    BAD(sm_net_forward(net, x, s, HUGE_N, 2, y), SM_ERR_OVERFLOW);
    BAD(sm_net_forward_sigma(NULL, x, 0.5f, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_sigma(net, NULL, 0.5f, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_sigma(net, x, 0.5f, 4, 2, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_sigma(net, x, 0.5f, 4, 1, y), SM_ERR_SHAPE);
    BAD(sm_net_forward_sigma(net, x, 0.5f, HUGE_N, 2, y), SM_ERR_OVERFLOW);
    for (int i = 0; i < 4; i++) {
        BAD(sm_net_forward_sigma(net, x, bad_s[i], 4, 2, y), SM_ERR_INVALID_ARG);
        s[2] = bad_s[i];
        BAD(sm_net_forward(net, x, s, 4, 2, y), SM_ERR_INVALID_ARG);
        BAD(sm_net_forward_train(net, x, s, 4, 2, y), SM_ERR_INVALID_ARG);
        s[2] = 0.1f;
    }
    const float bad_x[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        x[5] = bad_x[i];
        BAD(sm_net_forward(net, x, s, 4, 2, y), SM_ERR_NONFINITE);
        BAD(sm_net_forward_sigma(net, x, 0.5f, 4, 2, y), SM_ERR_NONFINITE);
        BAD(sm_net_forward_train(net, x, s, 4, 2, y), SM_ERR_NONFINITE);
        x[5] = -2;
    }
    /* Training passes: the rig's trainer reserved 32 rows. */
    BAD(sm_net_forward_train(NULL, x, s, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_train(net, x, NULL, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_train(net, NULL, s, 4, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_train(net, x, s, 4, 2, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_train(net, x, s, 0, 2, y), SM_ERR_INVALID_ARG);
    BAD(sm_net_forward_train(net, x, s, 4, 3, y), SM_ERR_SHAPE);
    {
        static float x33[66], s33[33], y33[66];
        for (int i = 0; i < 33; i++)
            s33[i] = 0.5f;
        BAD(sm_net_forward_train(net, x33, s33, 33, 2, y33), SM_ERR_STATE); /* > 32 rows */
    }
    BAD(sm_net_forward_train(net, x, s, HUGE_N, 2, y), SM_ERR_OVERFLOW);
    float dy[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    BAD(sm_net_backward(net, dy, 4, 2), SM_ERR_STATE); /* no training pass yet */
    ck_assert_ok(sm_net_forward_train(net, x, s, 4, 2, y));
    BAD(sm_net_backward(NULL, dy, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_backward(net, NULL, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_backward(net, dy, 4, 3), SM_ERR_SHAPE);
    BAD(sm_net_backward(net, dy, 3, 2), SM_ERR_STATE);
    BAD(sm_net_backward(net, dy, SIZE_MAX, 2), SM_ERR_STATE);
    BAD(sm_net_zero_grad(NULL), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(memcmp(before, sm_net_params(net), np * sizeof(float)), 0);

    /* Still usable: the saved training pass survived the bad calls. */
    ck_assert_ok(sm_net_zero_grad(net));
    ck_assert_ok(sm_net_backward(net, dy, 4, 2));
    ck_assert(sm_net_grads(net)[0] != 0.0f || sm_net_grads(net)[1] != 0.0f);
    ck_assert_ok(sm_net_set_threads(net, 2));
    ck_assert_ok(sm_net_reserve(net, 64));
    ck_assert_ok(sm_net_forward(net, x, s, 4, 2, y));
    ck_assert_ok(sm_net_copy_params(n2, n2));
    size_t fin = 0;
    ck_assert_ok(sm_net_layer(net, 2, NULL, NULL, &fin, NULL));
    ck_assert_uint_eq(fin, 16);
    sm_net_free(n2);
    free(before);
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

/* NaN or infinity written into a network's parameters: every pass that
 * uses them must fail with a status, not return NaNs or crash, and the
 * handles must work again once the parameters are repaired. */
START_TEST(nonfinite_parameters)
{
    rig g;
    rig_make(&g);
    sm_net *saved;
    ck_assert_ok(sm_net_clone(g.net, &saved));
    const float poison[] = {NAN, INFINITY, -INFINITY};
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f}, y[8];
    float eps[8] = {0.1f, -0.2f, 0.3f, 0, 1, -1, 0.5f, 0.5f};
    for (int k = 0; k < 3; k++) {
        /* A weight of the first layer, a bias of the output layer. */
        size_t off[2], b_out;
        ck_assert_ok(sm_net_layer(g.net, 0, &off[0], NULL, NULL, NULL));
        ck_assert_ok(sm_net_layer(g.net, 2, NULL, &b_out, NULL, NULL));
        off[1] = b_out;
        for (int where = 0; where < 2; where++) {
            sm_net_params(g.net)[off[where]] = poison[k];
            BAD(sm_net_forward(g.net, x, s, 4, 2, y), SM_ERR_NONFINITE);
            BAD(sm_net_forward_sigma(g.net, x, 0.5f, 4, 2, y), SM_ERR_NONFINITE);
            BAD(sm_net_forward_train(g.net, x, s, 4, 2, y), SM_ERR_NONFINITE);
            BAD(sm_net_backward(g.net, y, 4, 2), SM_ERR_STATE); /* nothing saved */
            double loss = 0;
            BAD(sm_dsm_loss(g.net, x, s, eps, 4, 2, 0, &loss), SM_ERR_DIVERGED);
            ck_assert_ok(sm_net_zero_grad(g.net));
            BAD(sm_dsm_loss(g.net, x, s, eps, 4, 2, 1, &loss), SM_ERR_DIVERGED);
            for (size_t i = 0; i < sm_net_num_params(g.net); i++)
                ck_assert_float_eq(sm_net_grads(g.net)[i], 0.0f); /* no gradient added */
            uint64_t steps = sm_optim_steps(g.opt);
            BAD(sm_trainer_step(g.tr, x, 4, 2, g.rng, &loss), SM_ERR_DIVERGED);
            BAD(sm_trainer_fit(g.tr, g.ds, 5, g.rng, NULL, NULL, &loss), SM_ERR_DIVERGED);
            ck_assert_uint_eq(sm_optim_steps(g.opt), steps);
            float out[16];
            for (int kind = SM_SAMPLER_LANGEVIN; kind <= SM_SAMPLER_ODE_HEUN; kind++) {
                ck_assert_ok(sm_sampler_set_kind(g.smp, (sm_sampler_kind)kind));
                BAD(sm_sampler_run(g.smp, g.rng, out, 8, 2), SM_ERR_DIVERGED);
                for (int i = 0; i < 16; i++)
                    ck_assert(isfinite(out[i])); /* the last finite state */
                memcpy(out, x, sizeof x);
                BAD(sm_sampler_run_from(g.smp, g.rng, out, 4, 2), SM_ERR_DIVERGED);
            }
            ck_assert_ok(sm_sampler_set_kind(g.smp, SM_SAMPLER_LANGEVIN));
            ck_assert_ok(sm_net_copy_params(g.net, saved));
            rig_still_usable(&g);
            ck_assert_ok(sm_net_copy_params(saved, g.net));
        }
    }
    /* Gradients: a NaN gradient is refused by the optimizer, nothing moves. */
    ck_assert_ok(sm_net_forward_train(g.net, x, s, 4, 2, y));
    float dy[8] = {1, NAN, 1, 1, 1, 1, 1, 1};
    ck_assert_ok(sm_net_zero_grad(g.net));
    ck_assert_ok(sm_net_backward(g.net, dy, 4, 2));
    uint64_t steps = sm_optim_steps(g.opt);
    BAD(sm_optim_step_net(g.opt, g.net), SM_ERR_NONFINITE);
    ck_assert_uint_eq(sm_optim_steps(g.opt), steps);
    ck_assert_int_eq(memcmp(sm_net_params(g.net), sm_net_params(saved),
                            sm_net_num_params(saved) * sizeof(float)),
                     0);
    ck_assert_ok(sm_net_zero_grad(g.net));
    ck_assert_ok(sm_optim_step_net(g.opt, g.net));
    /* Huge but finite inputs that overflow inside the network. */
    float big[8] = {FLT_MAX, FLT_MAX, -FLT_MAX, FLT_MAX, FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX};
    sm_clear_error();
    sm_status st = sm_net_forward_sigma(g.net, big, 0.5f, 4, 2, y);
    if (st == SM_OK) {
        for (int i = 0; i < 8; i++)
            ck_assert(isfinite(y[i]));
    } else {
        check_failure(st, SM_ERR_NONFINITE, "sm_net_forward_sigma(big)", __FILE__, __LINE__);
    }
    sm_net_free(saved);
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

/* ---- optim.h ------------------------------------------------------------ */

START_TEST(optim_functions)
{
    sm_optim *o;
    const double bad_rate[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    const double bad_beta[] = {1.0, -0.1, 1.5, NAN, INFINITY};
    const double bad_decay[] = {-1.0, NAN, INFINITY};
    BAD(sm_optim_new_adam(NULL, 4, 1e-3, 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    BAD(sm_optim_new_sgd(NULL, 4, 0.1, 0.9, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(o, sm_optim_new_adam(&o, 0, 1e-3, 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(o, sm_optim_new_sgd(&o, 0, 0.1, 0.9, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(o, sm_optim_new_adam(&o, SIZE_MAX, 1e-3, 0.9, 0.999, 1e-8, 0), SM_ERR_OVERFLOW);
    BAD_NEW(o, sm_optim_new_adam(&o, HUGE_N, 1e-3, 0.9, 0.999, 1e-8, 0), SM_ERR_OVERFLOW);
    BAD_NEW(o, sm_optim_new_sgd(&o, SIZE_MAX / 3, 0.1, 0.9, 0), SM_ERR_OVERFLOW);
    for (int i = 0; i < 5; i++) {
        BAD_NEW(o, sm_optim_new_adam(&o, 4, bad_rate[i], 0.9, 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_adam(&o, 4, 1e-3, 0.9, 0.999, bad_rate[i], 0), SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_sgd(&o, 4, bad_rate[i], 0.9, 0), SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_adam(&o, 4, 1e-3, bad_beta[i], 0.999, 1e-8, 0), SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_adam(&o, 4, 1e-3, 0.9, bad_beta[i], 1e-8, 0), SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_sgd(&o, 4, 0.1, bad_beta[i], 0), SM_ERR_INVALID_ARG);
    }
    for (int i = 0; i < 3; i++) {
        BAD_NEW(o, sm_optim_new_adam(&o, 4, 1e-3, 0.9, 0.999, 1e-8, bad_decay[i]),
                SM_ERR_INVALID_ARG);
        BAD_NEW(o, sm_optim_new_sgd(&o, 4, 0.1, 0.9, bad_decay[i]), SM_ERR_INVALID_ARG);
    }

    ck_assert_ok(sm_optim_new_adam(&o, 4, 1e-3, 0.9, 0.999, 1e-8, 0));
    sm_optim_free(NULL);
    ck_assert_double_eq(sm_optim_lr(NULL), 0.0);
    ck_assert_uint_eq(sm_optim_steps(NULL), 0);
    BAD(sm_optim_set_lr(NULL, 0.1), SM_ERR_INVALID_ARG);
    for (int i = 0; i < 5; i++)
        BAD(sm_optim_set_lr(o, bad_rate[i]), SM_ERR_INVALID_ARG);
    ck_assert_double_eq(sm_optim_lr(o), 1e-3);
    BAD(sm_optim_set_clip_norm(NULL, 1.0), SM_ERR_INVALID_ARG);
    BAD(sm_optim_set_clip_norm(o, -1.0), SM_ERR_INVALID_ARG);
    BAD(sm_optim_set_clip_norm(o, NAN), SM_ERR_INVALID_ARG);
    BAD(sm_optim_set_clip_norm(o, INFINITY), SM_ERR_INVALID_ARG);
    BAD(sm_optim_reset(NULL), SM_ERR_INVALID_ARG);

    float p[4] = {1, 2, 3, 4}, gr[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    BAD(sm_optim_step(NULL, p, gr, 4), SM_ERR_INVALID_ARG);
    BAD(sm_optim_step(o, NULL, gr, 4), SM_ERR_INVALID_ARG);
    BAD(sm_optim_step(o, p, NULL, 4), SM_ERR_INVALID_ARG);
    BAD(sm_optim_step(o, p, gr, 3), SM_ERR_SHAPE);
    BAD(sm_optim_step(o, p, gr, SIZE_MAX), SM_ERR_SHAPE);
    const float bad_g[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        gr[2] = bad_g[i];
        BAD(sm_optim_step(o, p, gr, 4), SM_ERR_NONFINITE);
    }
    gr[2] = 0.3f;
    ck_assert(p[0] == 1 && p[1] == 2 && p[2] == 3 && p[3] == 4);
    ck_assert_uint_eq(sm_optim_steps(o), 0);

    sm_rng *r;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&r, 8));
    ck_assert_ok(sm_net_new(&net, 2, 4, 1, r));
    BAD(sm_optim_step_net(NULL, net), SM_ERR_INVALID_ARG);
    BAD(sm_optim_step_net(o, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_optim_step_net(o, net), SM_ERR_SHAPE); /* 4 slots, the net has more */

    /* Still usable. */
    ck_assert_ok(sm_optim_step(o, p, gr, 4));
    ck_assert_uint_eq(sm_optim_steps(o), 1);
    ck_assert(p[0] < 1);
    ck_assert_ok(sm_optim_set_lr(o, 0.5));
    ck_assert_ok(sm_optim_set_clip_norm(o, 1.0));
    ck_assert_ok(sm_optim_reset(o));
    ck_assert_uint_eq(sm_optim_steps(o), 0);
    sm_net_free(net);
    sm_rng_free(r);
    sm_optim_free(o);
}
END_TEST

/* ---- train.h ------------------------------------------------------------ */

/* A gradient reduction that misbehaves on request. */
typedef struct {
    int calls, status, poison_grad, poison_loss, nonzero_grad, nan_grad;
    float grad_value, loss_value;
} hostile_reduce;

static int hostile_reduce_fn(void *ud, float *buf, size_t n)
{
    hostile_reduce *h = ud;
    h->calls++;
    if (n > 1) {
        for (size_t i = 0; i < n; i++) {
            h->nonzero_grad |= buf[i] != 0.0f;
            h->nan_grad |= isnan(buf[i]);
        }
        if (h->poison_grad)
            buf[n / 2] = h->grad_value;
    } else if (h->poison_loss) {
        buf[0] = h->loss_value;
    }
    return h->status;
}

static int stop_now(uint64_t step, uint64_t total, double loss, void *ud)
{
    (void)step;
    (void)total;
    (void)loss;
    (void)ud;
    return 1;
}

START_TEST(train_functions)
{
    rig g;
    rig_make(&g);
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f};
    float e[8] = {0.1f, -0.2f, 0.3f, 0, 1, -1, 0.5f, 0.5f};
    double loss = -7;
    /* sm_dsm_loss */
    BAD(sm_dsm_loss(NULL, x, s, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, NULL, s, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, x, NULL, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, x, s, NULL, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 0, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, x, s, e, 0, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss(g.net, x, s, e, 4, 3, 0, &loss), SM_ERR_SHAPE);
    BAD(sm_dsm_loss(g.net, x, s, e, SIZE_MAX, 2, 0, &loss), SM_ERR_OVERFLOW);
    BAD(sm_dsm_loss(g.net, x, s, e, HUGE_N, 2, 1, &loss), SM_ERR_OVERFLOW);
    BAD(sm_dsm_loss(g.net, x, s, e, SIZE_MAX / 16, 2, 0, &loss), SM_ERR_OVERFLOW);
    {
        static float x33[66], s33[33], e33[66];
        for (int i = 0; i < 33; i++)
            s33[i] = 0.5f;
        BAD(sm_dsm_loss(g.net, x33, s33, e33, 33, 2, 1, &loss), SM_ERR_STATE); /* > 32 rows */
        ck_assert_ok(sm_dsm_loss(g.net, x33, s33, e33, 33, 2, 0, &loss)); /* inference: any n */
        loss = -7;
    }
    const float bad_v[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        e[3] = bad_v[i];
        BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 1, &loss), SM_ERR_NONFINITE);
        e[3] = 0;
        x[6] = bad_v[i];
        BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 1, &loss), SM_ERR_NONFINITE);
        x[6] = 0.5f;
        s[1] = bad_v[i];
        BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
        s[1] = 0.5f;
    }
    s[1] = 0.0f;
    BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    s[1] = -0.5f;
    BAD(sm_dsm_loss(g.net, x, s, e, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    s[1] = 0.5f;
    ck_assert_double_eq(loss, -7);

    /* sm_trainer_new: mismatched handles. */
    sm_trainer *t;
    sm_optim *small, *sgd_big;
    sm_net *net3;
    ck_assert_ok(sm_optim_new_adam(&small, 3, 1e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_net_new(&net3, 3, 16, 2, g.rng));
    BAD(sm_trainer_new(NULL, g.net, g.sched, g.opt, 8), SM_ERR_INVALID_ARG);
    BAD_NEW(t, sm_trainer_new(&t, NULL, g.sched, g.opt, 8), SM_ERR_INVALID_ARG);
    BAD_NEW(t, sm_trainer_new(&t, g.net, NULL, g.opt, 8), SM_ERR_INVALID_ARG);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, NULL, 8), SM_ERR_INVALID_ARG);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, g.opt, 0), SM_ERR_INVALID_ARG);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, small, 8), SM_ERR_SHAPE);
    BAD_NEW(t, sm_trainer_new(&t, net3, g.sched, g.opt, 8), SM_ERR_SHAPE);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, g.opt, SIZE_MAX), SM_ERR_OVERFLOW);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, g.opt, SIZE_MAX / 8), SM_ERR_OVERFLOW);
    BAD_NEW(t, sm_trainer_new(&t, g.net, g.sched, g.opt, (size_t)1 << 31), SM_ERR_OVERFLOW);
    sm_trainer_free(NULL);

    /* sm_trainer_step */
    BAD(sm_trainer_step(NULL, x, 4, 2, g.rng, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, NULL, 4, 2, g.rng, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, x, 4, 2, NULL, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, x, 0, 2, g.rng, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, x, 33, 2, g.rng, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, x, SIZE_MAX, 2, g.rng, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_step(g.tr, x, 4, 3, g.rng, &loss), SM_ERR_SHAPE);
    BAD(sm_trainer_step(g.tr, x, 4, SIZE_MAX, g.rng, &loss), SM_ERR_SHAPE);
    for (int i = 0; i < 3; i++) {
        x[1] = bad_v[i];
        BAD(sm_trainer_step(g.tr, x, 4, 2, g.rng, &loss), SM_ERR_NONFINITE);
    }
    x[1] = 1;

    /* sm_trainer_fit: a data set of another dimension, a cancelled run. */
    sm_dataset *d3;
    float p3[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_ok(sm_dataset_new(&d3, p3, 3, 3));
    BAD(sm_trainer_fit(NULL, g.ds, 5, g.rng, NULL, NULL, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_fit(g.tr, NULL, 5, g.rng, NULL, NULL, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_fit(g.tr, g.ds, 5, NULL, NULL, NULL, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_fit(g.tr, g.ds, 0, g.rng, NULL, NULL, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_fit(g.tr, d3, 5, g.rng, NULL, NULL, &loss), SM_ERR_SHAPE);
    uint64_t steps = sm_optim_steps(g.opt);
    BAD(sm_trainer_fit(g.tr, g.ds, 5, g.rng, stop_now, NULL, &loss), SM_ERR_CANCELLED);
    ck_assert_uint_eq(sm_optim_steps(g.opt), steps + 1);

    /* A learning rate that blows the parameters up: the step is undone. */
    sm_trainer *t2;
    ck_assert_ok(sm_optim_new_sgd(&sgd_big, sm_net_num_params(g.net), 1e30, 0.0, 0.0));
    ck_assert_ok(sm_trainer_new(&t2, g.net, g.sched, sgd_big, 16));
    BAD(sm_trainer_fit(t2, g.ds, 50, g.rng, NULL, NULL, &loss), SM_ERR_DIVERGED);
    for (size_t i = 0; i < sm_net_num_params(g.net); i++)
        ck_assert(isfinite(sm_net_params(g.net)[i]));
    sm_trainer_free(t2);
    sm_optim_free(sgd_big);

    /* Gradient reduction and slices: NULL, out-of-range slices, and a
     * reduction that returns NaN, an infinite loss or a failure. */
    {
        sm_trainer *t4;
        sm_optim *o4;
        sm_net *n4;
        ck_assert_ok(sm_net_new(&n4, 2, 16, 2, g.rng)); /* g.net has seen huge steps */
        ck_assert_ok(sm_optim_new_adam(&o4, sm_net_num_params(n4), 1e-3, 0.9, 0.999, 1e-8, 0));
        ck_assert_ok(sm_trainer_new(&t4, n4, g.sched, o4, 16));
        hostile_reduce hr = {0};
        BAD(sm_trainer_set_grad_reduce(NULL, hostile_reduce_fn, &hr), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_grad_reduce(NULL, NULL, NULL), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_shard(NULL, 0, 1), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_shard(t4, 0, 0), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_shard(t4, 2, 2), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_shard(t4, SIZE_MAX, SIZE_MAX), SM_ERR_INVALID_ARG);
        BAD(sm_trainer_set_shard(t4, 0, 17), SM_ERR_INVALID_ARG); /* more ranks than rows */
        BAD(sm_trainer_set_shard(t4, 0, SIZE_MAX), SM_ERR_INVALID_ARG);
        ck_assert_ok(sm_trainer_set_shard(t4, 0, 16)); /* one row each of 16 */
        ck_assert_ok(sm_trainer_set_grad_reduce(t4, hostile_reduce_fn, &hr));
        const size_t np4 = sm_net_num_params(n4);
        float *before = malloc(np4 * sizeof(float));
        memcpy(before, sm_net_params(n4), np4 * sizeof(float));
        const float nan_inf[3] = {NAN, INFINITY, -INFINITY};
        for (int i = 0; i < 3; i++) {
            hr = (hostile_reduce){.grad_value = nan_inf[i], .poison_grad = 1};
            BAD(sm_trainer_fit(t4, g.ds, 3, g.rng, NULL, NULL, &loss), SM_ERR_DIVERGED);
            hr = (hostile_reduce){.loss_value = nan_inf[i], .poison_loss = 1};
            BAD(sm_trainer_step(t4, x, 4, 2, g.rng, &loss), SM_ERR_DIVERGED);
            hr = (hostile_reduce){.status = i == 0 ? -1 : i == 1 ? 1 : INT_MIN};
            BAD(sm_trainer_fit(t4, g.ds, 3, g.rng, NULL, NULL, &loss), SM_ERR_CANCELLED);
            ck_assert_int_eq(hr.calls, 1); /* the loss is not reduced after a failure */
        }
        ck_assert_uint_eq(sm_optim_steps(o4), 0);
        ck_assert_int_eq(memcmp(before, sm_net_params(n4), np4 * sizeof(float)), 0);
        /* 4 rows for 16 ranks: rank 0's slice is empty; it still takes
         * part in the reduction (with a zero gradient). */
        hr = (hostile_reduce){0};
        ck_assert_ok(sm_trainer_step(t4, x, 4, 2, g.rng, &loss));
        ck_assert_int_eq(hr.calls, 2);
        ck_assert_int_eq(hr.nonzero_grad, 0);
        ck_assert_double_eq(loss, 0.0);
        /* A rank whose own loss is not finite (poisoned parameters) still
         * calls the reduction, with NaN, and fails. */
        ck_assert_ok(sm_trainer_set_shard(t4, 0, 1));
        sm_net_params(n4)[0] = NAN;
        hr = (hostile_reduce){0};
        BAD(sm_trainer_step(t4, x, 4, 2, g.rng, &loss), SM_ERR_DIVERGED);
        ck_assert_int_eq(hr.calls, 2);
        ck_assert_int_eq(hr.nan_grad, 1);
        sm_net_params(n4)[0] = before[0];
        ck_assert_ok(sm_trainer_set_grad_reduce(t4, NULL, NULL));
        ck_assert_ok(sm_trainer_step(t4, x, 4, 2, g.rng, &loss));
        ck_assert_int_eq(hr.calls, 2);
        free(before);
        sm_trainer_free(t4);
        sm_optim_free(o4);
        sm_net_free(n4);
    }
    sm_net *fresh;
    ck_assert_ok(sm_net_new(&fresh, 2, 16, 2, g.rng)); /* repair the rig's network */
    ck_assert_ok(sm_net_copy_params(g.net, fresh));
    ck_assert_ok(sm_optim_reset(g.opt));
    sm_net_free(fresh);

    sm_dataset_free(d3);
    sm_net_free(net3);
    sm_optim_free(small);
    rig_still_usable(&g);
    ck_assert_ok(sm_dsm_loss(g.net, x, s, e, 4, 2, 1, &loss));
    ck_assert(isfinite(loss));
    rig_free(&g);
}
END_TEST

/* ---- sampler.h ---------------------------------------------------------- */

START_TEST(sampler_functions)
{
    rig g;
    rig_make(&g);
    sm_sampler *s, *smp = g.smp;
    BAD(sm_sampler_new(NULL, g.net, g.sched), SM_ERR_INVALID_ARG);
    BAD_NEW(s, sm_sampler_new(&s, NULL, g.sched), SM_ERR_INVALID_ARG);
    BAD_NEW(s, sm_sampler_new(&s, g.net, NULL), SM_ERR_INVALID_ARG);
    sm_sampler_free(NULL);
    ck_assert_double_eq(sm_sampler_step_ratio(NULL), 0.0);
    ck_assert_uint_eq(sm_sampler_nfe(NULL), 0);

    const double bad_pos[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    BAD(sm_sampler_set_steps_per_scale(NULL, 5), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_steps_per_scale(smp, 0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_steps_per_scale(smp, SIZE_MAX), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_step_ratio(NULL, 0.1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_step_ncsn(NULL, 2e-5), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_normal(NULL, 1.0), SM_ERR_INVALID_ARG);
    for (int i = 0; i < 5; i++) {
        BAD(sm_sampler_set_step_ratio(smp, bad_pos[i]), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_set_step_ncsn(smp, bad_pos[i]), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_set_init_normal(smp, bad_pos[i]), SM_ERR_INVALID_ARG);
    }
    /* ε/σ_L² beyond double; a start beyond float. */
    BAD(sm_sampler_set_step_ncsn(smp, DBL_MAX), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_normal(smp, 1e300), SM_ERR_INVALID_ARG);
    ck_assert_double_eq(sm_sampler_step_ratio(smp), 0.2); /* unchanged */
    BAD(sm_sampler_set_init_uniform(NULL, 0, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, 1, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, 1, 0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, NAN, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, 0, INFINITY), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, -1e300, 1e300), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_init_uniform(smp, 1.0, 1.0 + 1e-12), SM_ERR_INVALID_ARG); /* equal in float */
    BAD(sm_sampler_set_noise(NULL, 0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_final_denoise(NULL, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_callback(NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_kind(NULL, SM_SAMPLER_PC), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_kind(smp, (sm_sampler_kind)7), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_kind(smp, (sm_sampler_kind)INT_MIN), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(sm_sampler_get_kind(smp), SM_SAMPLER_LANGEVIN); /* unchanged */
    ck_assert_int_eq(sm_sampler_get_kind(NULL), SM_SAMPLER_LANGEVIN);
    ck_assert_str_eq(sm_sampler_kind_name((sm_sampler_kind)-7), "unknown");
    BAD(sm_sampler_set_corrector(NULL, 1, 0.16), SM_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof bad_pos / sizeof bad_pos[0]; i++)
        BAD(sm_sampler_set_corrector(smp, 1, bad_pos[i]), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_corrector(smp, SIZE_MAX, 0.16), SM_ERR_INVALID_ARG);

    float y[16], x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f};
    BAD(sm_sampler_run(NULL, g.rng, y, 8, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run(smp, NULL, y, 8, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run(smp, g.rng, NULL, 8, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run(smp, g.rng, y, 0, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run(smp, g.rng, y, 8, 3), SM_ERR_SHAPE);
    BAD(sm_sampler_run(smp, g.rng, y, 8, 0), SM_ERR_SHAPE);
    BAD(sm_sampler_run(smp, g.rng, y, SIZE_MAX, 2), SM_ERR_OVERFLOW);
    BAD(sm_sampler_run(smp, g.rng, y, HUGE_N, 2), SM_ERR_OVERFLOW);
    BAD(sm_sampler_run_from(NULL, g.rng, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run_from(smp, NULL, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run_from(smp, g.rng, NULL, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run_from(smp, g.rng, x, 0, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_run_from(smp, g.rng, x, 4, 1), SM_ERR_SHAPE);
    BAD(sm_sampler_run_from(smp, g.rng, x, HUGE_N, 2), SM_ERR_OVERFLOW);
    const float bad_x[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        x[7] = bad_x[i];
        BAD(sm_sampler_run_from(smp, g.rng, x, 4, 2), SM_ERR_NONFINITE);
    }
    x[7] = 0.25f;
    ck_assert_uint_eq(sm_sampler_nfe(smp), 0); /* no run happened */

    /* Imputation with several draws: the count, the spread's buffer. */
    BAD(sm_sampler_set_impute_draws(NULL, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_impute_draws(smp, 0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_impute_draws(smp, 10001), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_impute_draws(smp, SIZE_MAX), SM_ERR_INVALID_ARG);
    ck_assert_uint_eq(sm_sampler_impute_draws(smp), 1); /* unchanged */
    ck_assert_uint_eq(sm_sampler_impute_draws(NULL), 0);
    {
        float xi[8] = {0, NAN, 2, NAN, -1, NAN, 0.5f, NAN}, sp[8];
        const unsigned char mk[8] = {1, 0, 1, 0, 1, 0, 1, 0};
        BAD(sm_sampler_impute_spread(NULL, g.rng, xi, sp, mk, 4, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, NULL, xi, sp, mk, 4, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, g.rng, NULL, sp, mk, 4, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, NULL, mk, 4, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, NULL, 4, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, mk, 0, 2), SM_ERR_INVALID_ARG);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, mk, 4, 3), SM_ERR_SHAPE);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, mk, SIZE_MAX, 2), SM_ERR_OVERFLOW);
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, mk, HUGE_N, 2), SM_ERR_OVERFLOW);
        xi[0] = INFINITY;
        BAD(sm_sampler_impute_spread(smp, g.rng, xi, sp, mk, 4, 2), SM_ERR_NONFINITE);
        ck_assert_uint_eq(sm_sampler_nfe(smp), 0);
    }

    /* A step ratio that overflows: diverged, the output stays finite. */
    ck_assert_ok(sm_sampler_set_step_ratio(smp, 1e30));
    BAD(sm_sampler_run(smp, g.rng, y, 8, 2), SM_ERR_DIVERGED);
    for (int i = 0; i < 16; i++)
        ck_assert(isfinite(y[i]));
    ck_assert_ok(sm_sampler_set_step_ratio(smp, 0.2));
    /* A start distribution whose draws overflow float. */
    ck_assert_ok(sm_sampler_set_init_normal(smp, FLT_MAX));
    BAD(sm_sampler_run(smp, g.rng, y, 8, 2), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_sampler_set_init_normal(smp, 1.0));

    /* A sampler whose network has another dimension than the data. */
    sm_net *net3;
    ck_assert_ok(sm_net_new(&net3, 3, 8, 1, g.rng));
    ck_assert_ok(sm_sampler_new(&s, net3, g.sched));
    BAD(sm_sampler_run(s, g.rng, y, 4, 2), SM_ERR_SHAPE);
    ck_assert_ok(sm_sampler_run(s, g.rng, y, 4, 3));
    sm_sampler_free(s);
    sm_net_free(net3);

    /* Still usable, every setter once. */
    ck_assert_ok(sm_sampler_set_step_ncsn(smp, 2e-5));
    ck_assert_double_eq_tol(sm_sampler_step_ratio(smp), 0.2, 1e-6);
    ck_assert_ok(sm_sampler_set_noise(smp, 1));
    ck_assert_ok(sm_sampler_set_final_denoise(smp, 1));
    ck_assert_ok(sm_sampler_set_callback(smp, NULL, NULL));
    ck_assert_ok(sm_sampler_set_init_uniform(smp, -1, 1));
    ck_assert_ok(sm_sampler_run_from(smp, g.rng, x, 4, 2));
    ck_assert_uint_eq(sm_sampler_nfe(smp), 10 * 2 + 1);
    ck_assert_ok(sm_sampler_set_final_denoise(smp, 0));
    ck_assert_ok(sm_sampler_set_init_normal(smp, 1.0));
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

/* ---- model.h ------------------------------------------------------------ */

START_TEST(model_functions)
{
    rig g;
    rig_make(&g);
    ck_assert_ptr_nonnull(mkdtemp(strcpy(tmpdir, "/tmp/sm-hostile-XXXXXX")));
    const char *path = tmp_path("m.smm");
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt, *small;
    void *buf = NULL;
    size_t len = 99;

    BAD(sm_model_save(NULL, g.net, g.sched, g.opt), SM_ERR_INVALID_ARG);
    BAD(sm_model_save(path, NULL, g.sched, g.opt), SM_ERR_INVALID_ARG);
    BAD(sm_model_save(path, g.net, NULL, g.opt), SM_ERR_INVALID_ARG);
    BAD(sm_model_save("/nonexistent-sm-dir/m.smm", g.net, g.sched, NULL), SM_ERR_IO);
    ck_assert_ok(sm_optim_new_sgd(&small, 3, 0.1, 0.9, 0));
    BAD(sm_model_save(path, g.net, g.sched, small), SM_ERR_SHAPE);
    BAD(sm_model_save_buffer(g.net, g.sched, small, &buf, &len), SM_ERR_SHAPE);
    ck_assert(buf == NULL && len == 0);
    BAD(sm_model_save_buffer(NULL, g.sched, NULL, &buf, &len), SM_ERR_INVALID_ARG);
    BAD(sm_model_save_buffer(g.net, NULL, NULL, &buf, &len), SM_ERR_INVALID_ARG);
    BAD(sm_model_save_buffer(g.net, g.sched, NULL, NULL, &len), SM_ERR_INVALID_ARG);
    BAD(sm_model_save_buffer(g.net, g.sched, NULL, &buf, NULL), SM_ERR_INVALID_ARG);
    /* NaN parameters are not saved. */
    float keep = sm_net_params(g.net)[3];
    sm_net_params(g.net)[3] = NAN;
    BAD(sm_model_save(path, g.net, g.sched, NULL), SM_ERR_NONFINITE);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing written */
    BAD(sm_model_save_buffer(g.net, g.sched, NULL, &buf, &len), SM_ERR_NONFINITE);
    sm_net_params(g.net)[3] = keep;

    BAD(sm_model_load(NULL, &net, &sched, &opt), SM_ERR_INVALID_ARG);
    BAD(sm_model_load(path, NULL, &sched, &opt), SM_ERR_INVALID_ARG);
    BAD(sm_model_load(path, &net, NULL, &opt), SM_ERR_INVALID_ARG);
    net = (sm_net *)&net;
    sched = (sm_schedule *)&sched;
    BAD(sm_model_load("/nonexistent-sm-dir/m.smm", &net, &sched, NULL), SM_ERR_IO);
    ck_assert(net == NULL && sched == NULL);
    BAD(sm_model_load(tmpdir, &net, &sched, NULL), SM_ERR_IO); /* a directory */
    BAD(sm_model_load_buffer(NULL, 16, &net, &sched, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_model_load_buffer(NULL, 0, &net, &sched, NULL), SM_ERR_FORMAT);
    BAD(sm_model_load_buffer("x", 1, NULL, &sched, NULL), SM_ERR_INVALID_ARG);
    static const char junk[64] = "not a model file at all";
    BAD(sm_model_load_buffer(junk, sizeof junk, &net, &sched, NULL), SM_ERR_FORMAT);

    /* A valid file, then damaged copies of it. */
    ck_assert_ok(sm_model_save_buffer(g.net, g.sched, g.opt, &buf, &len));
    unsigned char *b = buf;
    for (size_t cut = 0; cut < len; cut += len / 7 + 1)
        BAD(sm_model_load_buffer(b, cut, &net, &sched, &opt), SM_ERR_FORMAT); /* truncated */
    unsigned char *longer = calloc(len + 1, 1);
    memcpy(longer, b, len);
    BAD(sm_model_load_buffer(longer, len + 1, &net, &sched, &opt), SM_ERR_FORMAT);
    free(longer);
    b[len / 2] ^= 0x40; /* one bit flipped: the checksum fails */
    BAD(sm_model_load_buffer(b, len, &net, &sched, &opt), SM_ERR_FORMAT);
    b[len / 2] ^= 0x40;
    ck_assert_ok(sm_model_load_buffer(b, len, &net, &sched, &opt));
    ck_assert_int_eq(memcmp(sm_net_params(net), sm_net_params(g.net),
                            sm_net_num_params(net) * sizeof(float)),
                     0);
    sm_net_free(net);
    sm_schedule_free(sched);
    sm_optim_free(opt);
    sm_free(buf);
    sm_free(NULL);

    /* Still usable. */
    ck_assert_ok(sm_model_save(path, g.net, g.sched, NULL));
    ck_assert_ok(sm_model_load(path, &net, &sched, &opt));
    ck_assert_ptr_null(opt);
    sm_net_free(net);
    sm_schedule_free(sched);
    sm_optim_free(small);
    unlink(path);
    rmdir(tmpdir);
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

/* ---- net.h (sm_net_jvp), train.h (SSM, per-level), likelihood.h ---------- */

START_TEST(beyond_the_lab_functions)
{
    rig g;
    rig_make(&g);
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f};
    float e[8] = {0.1f, -0.2f, 0.3f, 0, 1, -1, 0.5f, 0.5f}, v[8] = {1, 0, 0, 1, 1, 1, -1, 0.5f};
    float out[8], jv[8];
    double loss = -7, losses[10], lp[4];
    const float bad_v[] = {NAN, INFINITY, -INFINITY};

    /* sm_net_jvp */
    BAD(sm_net_jvp(NULL, x, s, v, 4, 2, out, jv), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, NULL, s, v, 4, 2, out, jv), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, x, NULL, v, 4, 2, out, jv), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, x, s, NULL, 4, 2, out, jv), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, x, s, v, 0, 2, out, jv), SM_ERR_INVALID_ARG);
    BAD(sm_net_jvp(g.net, x, s, v, 4, 3, out, jv), SM_ERR_SHAPE);
    BAD(sm_net_jvp(g.net, x, s, v, HUGE_N, 2, out, jv), SM_ERR_OVERFLOW);
    BAD(sm_net_jvp(g.net, x, s, v, SIZE_MAX, 2, out, jv), SM_ERR_OVERFLOW);
    for (int i = 0; i < 3; i++) {
        x[5] = bad_v[i];
        BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv), SM_ERR_NONFINITE);
        x[5] = -2;
        v[2] = bad_v[i];
        BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv), SM_ERR_NONFINITE);
        v[2] = 0;
        s[3] = bad_v[i];
        BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv), SM_ERR_INVALID_ARG);
        s[3] = 1.0f;
    }
    s[0] = 0.0f;
    BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv), SM_ERR_INVALID_ARG);
    s[0] = 0.5f;

    /* sm_ssm_loss */
    BAD(sm_ssm_loss(NULL, x, s, e, v, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, NULL, s, e, v, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, NULL, e, v, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, s, NULL, v, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, s, e, NULL, 4, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 0, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, s, e, v, 0, 2, 0, &loss), SM_ERR_INVALID_ARG);
    BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 1, 0, &loss), SM_ERR_SHAPE);
    BAD(sm_ssm_loss(g.net, x, s, e, v, HUGE_N, 2, 1, &loss), SM_ERR_OVERFLOW);
    for (int i = 0; i < 3; i++) {
        e[4] = bad_v[i];
        BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 1, &loss), SM_ERR_NONFINITE);
        e[4] = 1;
        v[4] = bad_v[i];
        BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 1, &loss), SM_ERR_NONFINITE);
        v[4] = 1;
        s[2] = bad_v[i];
        BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 1, &loss), SM_ERR_INVALID_ARG);
        s[2] = 0.1f;
    }
    ck_assert_double_eq(loss, -7);

    /* sm_dsm_loss_per_level */
    const float *data = sm_dataset_data(g.ds);
    BAD(sm_dsm_loss_per_level(NULL, g.sched, data, 8, 2, g.rng, losses, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, NULL, data, 8, 2, g.rng, losses, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, NULL, 8, 2, g.rng, losses, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, NULL, losses, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, g.rng, NULL, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 0, 2, g.rng, losses, 10), SM_ERR_INVALID_ARG);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 3, g.rng, losses, 10), SM_ERR_SHAPE);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, g.rng, losses, 9), SM_ERR_SHAPE);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, g.rng, losses, SIZE_MAX), SM_ERR_SHAPE);
    BAD(sm_dsm_loss_per_level(g.net, g.sched, data, HUGE_N, 2, g.rng, losses, 10),
        SM_ERR_OVERFLOW);
    x[0] = NAN;
    BAD(sm_dsm_loss_per_level(g.net, g.sched, x, 4, 2, g.rng, losses, 10), SM_ERR_NONFINITE);
    x[0] = 0;

    /* sm_trainer_set_objective */
    BAD(sm_trainer_set_objective(NULL, SM_OBJECTIVE_SSM_VR), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_objective(g.tr, (sm_objective)2), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_objective(g.tr, (sm_objective)-1), SM_ERR_INVALID_ARG);

    /* sm_log_likelihood */
    BAD(sm_log_likelihood(NULL, g.sched, x, 4, 2, 0, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, NULL, x, 4, 2, 0, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, NULL, 4, 2, 0, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 0, NULL, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 0, 2, 0, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 5, 0, 0, NULL, lp), SM_ERR_SHAPE);
    BAD(sm_log_likelihood(g.net, g.sched, x, HUGE_N, 2, 0, 0, NULL, lp), SM_ERR_OVERFLOW);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, INFINITY, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, NAN, 0, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 1, NULL, lp), SM_ERR_INVALID_ARG);
    BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, SIZE_MAX, g.rng, lp), SM_ERR_INVALID_ARG);
    for (int i = 0; i < 3; i++) {
        x[7] = bad_v[i];
        BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 0, NULL, lp), SM_ERR_NONFINITE);
    }
    x[7] = 0.25f;

    /* NaN or huge parameters: every new function fails cleanly. */
    const size_t np = sm_net_num_params(g.net);
    float *saved = malloc(np * sizeof(float));
    memcpy(saved, sm_net_params(g.net), np * sizeof(float));
    const float poison[] = {NAN, INFINITY, 1e30f};
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < np; k += 7)
            sm_net_params(g.net)[k] = poison[i];
        BAD(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv), SM_ERR_NONFINITE);
        ck_assert_ok(sm_net_zero_grad(g.net));
        BAD(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 1, &loss), SM_ERR_DIVERGED);
        for (size_t k = 0; k < np; k++)
            ck_assert_float_eq(sm_net_grads(g.net)[k], 0.0f); /* nothing added */
        BAD(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, g.rng, losses, 10), SM_ERR_DIVERGED);
        BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 0, NULL, lp), SM_ERR_DIVERGED);
        BAD(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 2, g.rng, lp), SM_ERR_DIVERGED);
        ck_assert_ok(sm_trainer_set_objective(g.tr, SM_OBJECTIVE_SSM_VR));
        uint64_t steps = sm_optim_steps(g.opt);
        BAD(sm_trainer_step(g.tr, x, 4, 2, g.rng, &loss), SM_ERR_DIVERGED);
        ck_assert_uint_eq(sm_optim_steps(g.opt), steps);
        ck_assert_ok(sm_trainer_set_objective(g.tr, SM_OBJECTIVE_DSM));
        memcpy(sm_net_params(g.net), saved, np * sizeof(float));
    }
    free(saved);

    /* Still usable, and the new functions work on the same handles. */
    ck_assert_ok(sm_net_jvp(g.net, x, s, v, 4, 2, out, jv));
    ck_assert_ok(sm_ssm_loss(g.net, x, s, e, v, 4, 2, 1, &loss));
    ck_assert(isfinite(loss));
    ck_assert_ok(sm_dsm_loss_per_level(g.net, g.sched, data, 8, 2, g.rng, losses, 10));
    ck_assert_ok(sm_log_likelihood(g.net, g.sched, x, 4, 2, 0, 2, g.rng, lp));
    ck_assert(isfinite(lp[3]));
    ck_assert_ok(sm_trainer_set_objective(g.tr, SM_OBJECTIVE_SSM_VR));
    ck_assert_ok(sm_trainer_step(g.tr, x, 4, 2, g.rng, &loss));
    ck_assert(isfinite(loss));
    ck_assert_ok(sm_trainer_set_objective(g.tr, SM_OBJECTIVE_DSM));
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

/* The real-data additions: network options and parametrizations, the
 * denoiser, normalization, σ_data, σ sampling, learning-rate schedules,
 * sampler kinds by name and churn. */
START_TEST(real_data_functions)
{
    rig g;
    rig_make(&g);
    sm_net *n = NULL;
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 4;
    o.depth = 1;
    o.parametrization = SM_PARAM_EDM;
    BAD(sm_net_new_ex(NULL, &o, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n, sm_net_new_ex(&n, NULL, g.rng), SM_ERR_INVALID_ARG);
    BAD_NEW(n, sm_net_new_ex(&n, &o, NULL), SM_ERR_INVALID_ARG);
    o.version = 0;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_VERSION);
    o.version = SM_NET_OPTIONS_VERSION;
    const double bad_sd[] = {-1.0, NAN, INFINITY, -INFINITY, 1e300};
    for (int i = 0; i < 5; i++) {
        o.sigma_data = bad_sd[i];
        BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_INVALID_ARG);
    }
    o.sigma_data = 0.0;
    o.parametrization = (sm_parametrization)-1;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_INVALID_ARG);
    o.parametrization = (sm_parametrization)2;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_INVALID_ARG);
    o.parametrization = SM_PARAM_EDM;
    o.dim = 0;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_INVALID_ARG);
    o.dim = SIZE_MAX;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_OVERFLOW);
    o.dim = 2;
    o.width = (size_t)1 << 40;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_OVERFLOW);
    o.width = 4;
    ck_assert_ok(sm_net_new_ex(&n, &o, g.rng));
    BAD(sm_net_get_options(NULL, &o), SM_ERR_INVALID_ARG);
    BAD(sm_net_get_options(n, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_sigma_data(NULL, 1.0), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_sigma_data(g.net, 1.0), SM_ERR_STATE); /* a lab network */
    for (int i = 0; i < 5; i++)
        BAD(sm_net_set_sigma_data(n, bad_sd[i]), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_sigma_data(n, 0.0), SM_ERR_INVALID_ARG);

    /* sm_net_denoise: σ_data unknown, then the usual suspects. */
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f}, out[8];
    BAD(sm_net_denoise(n, x, s, 4, 2, out), SM_ERR_STATE);
    ck_assert_ok(sm_net_set_sigma_data(n, 0.8));
    ck_assert_ok(sm_net_denoise(n, x, s, 4, 2, out));
    BAD(sm_net_denoise(NULL, x, s, 4, 2, out), SM_ERR_INVALID_ARG);
    BAD(sm_net_denoise(n, NULL, s, 4, 2, out), SM_ERR_INVALID_ARG);
    BAD(sm_net_denoise(n, x, NULL, 4, 2, out), SM_ERR_INVALID_ARG);
    BAD(sm_net_denoise(n, x, s, 4, 2, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_net_denoise(n, x, s, 4, 3, out), SM_ERR_SHAPE);
    BAD(sm_net_denoise(n, x, s, HUGE_N, 2, out), SM_ERR_OVERFLOW);
    BAD(sm_net_denoise(n, x, s, SIZE_MAX, 2, out), SM_ERR_OVERFLOW);
    x[3] = NAN;
    BAD(sm_net_denoise(n, x, s, 4, 2, out), SM_ERR_NONFINITE);
    x[3] = 3;
    s[2] = 0.0f;
    BAD(sm_net_denoise(n, x, s, 4, 2, out), SM_ERR_INVALID_ARG);
    s[2] = -INFINITY;
    BAD(sm_net_denoise(n, x, s, 4, 2, out), SM_ERR_INVALID_ARG);
    s[2] = 0.1f;

    /* Normalization. */
    float shift[2] = {1, 2}, scale[2] = {0.5f, 3};
    BAD(sm_net_set_normalization(NULL, shift, scale, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_normalization(n, shift, NULL, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_normalization(n, NULL, scale, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_set_normalization(n, shift, scale, 3), SM_ERR_SHAPE);
    const float bad_scale[] = {0.0f, -1.0f, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        scale[1] = bad_scale[i];
        BAD(sm_net_set_normalization(n, shift, scale, 2), SM_ERR_INVALID_ARG);
    }
    scale[1] = 3;
    shift[0] = INFINITY;
    BAD(sm_net_set_normalization(n, shift, scale, 2), SM_ERR_NONFINITE);
    shift[0] = 1;
    ck_assert_int_eq(sm_net_has_normalization(n), 0); /* nothing was kept */
    ck_assert_ok(sm_net_set_normalization(n, shift, scale, 2));
    ck_assert_int_eq(sm_net_has_normalization(n), 1);
    ck_assert_int_eq(sm_net_has_normalization(NULL), 0);
    BAD(sm_net_get_normalization(NULL, shift, scale, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_get_normalization(n, shift, scale, 1), SM_ERR_SHAPE);
    BAD(sm_net_to_data_units(NULL, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_to_data_units(n, NULL, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_to_data_units(n, x, 4, 3), SM_ERR_SHAPE);
    BAD(sm_net_to_data_units(n, x, SIZE_MAX, 2), SM_ERR_OVERFLOW);
    BAD(sm_net_from_data_units(NULL, x, 4, 2), SM_ERR_INVALID_ARG);
    BAD(sm_net_from_data_units(n, x, 4, 1), SM_ERR_SHAPE);
    BAD(sm_net_from_data_units(n, x, HUGE_N, 2), SM_ERR_OVERFLOW);
    ck_assert_ok(sm_net_set_normalization(n, NULL, NULL, 0)); /* removed */
    ck_assert_int_eq(sm_net_has_normalization(n), 0);

    /* Context normalization: refused on a network without a context, and
     * on a context network every bad argument leaves the previous one. */
    BAD(sm_net_set_context_normalization(n, shift, scale, 2), SM_ERR_SHAPE);
    BAD(sm_net_set_context_normalization(n, shift, scale, 0), SM_ERR_SHAPE);
    ck_assert_int_eq(sm_net_has_context_normalization(n), 0);
    ck_assert_ok(sm_net_get_context_normalization(n, NULL, NULL, 0)); /* c = 0: nothing */
    BAD(sm_net_get_context_normalization(n, shift, scale, 2), SM_ERR_SHAPE);
    {
        sm_net *cn = NULL;
        sm_net_options co = o;
        co.sigma_data = 0.8;
        co.context_dim = 3;
        ck_assert_ok(sm_net_new_ex(&cn, &co, g.rng));
        float csh[3] = {1, -2, 0.5f}, csc[3] = {2, 0.25f, 8}, got_sh[3], got_sc[3];
        const float xc[4] = {0.5f, -1, 2, 0.25f}, sc2[2] = {0.5f, 1.5f};
        const float ctx[6] = {3, -1, 0, 9, 2, -4};
        float before[4], after[4];
        ck_assert_ok(sm_net_forward_cond(cn, xc, sc2, ctx, 2, 2, 3, before));
        BAD(sm_net_set_context_normalization(NULL, csh, csc, 3), SM_ERR_INVALID_ARG);
        BAD(sm_net_set_context_normalization(cn, csh, NULL, 3), SM_ERR_INVALID_ARG);
        BAD(sm_net_set_context_normalization(cn, NULL, csc, 3), SM_ERR_INVALID_ARG);
        BAD(sm_net_set_context_normalization(cn, csh, csc, 2), SM_ERR_SHAPE);
        BAD(sm_net_set_context_normalization(cn, csh, csc, 4), SM_ERR_SHAPE);
        for (int i = 0; i < 4; i++) {
            csc[2] = bad_scale[i];
            BAD(sm_net_set_context_normalization(cn, csh, csc, 3), SM_ERR_INVALID_ARG);
        }
        csc[2] = -INFINITY;
        BAD(sm_net_set_context_normalization(cn, csh, csc, 3), SM_ERR_INVALID_ARG);
        csc[2] = 8;
        const float bad_shift[] = {NAN, INFINITY, -INFINITY};
        for (int i = 0; i < 3; i++) {
            csh[1] = bad_shift[i];
            BAD(sm_net_set_context_normalization(cn, csh, csc, 3), SM_ERR_NONFINITE);
        }
        csh[1] = -2;
        ck_assert_int_eq(sm_net_has_context_normalization(cn), 0); /* nothing was kept */
        ck_assert_ok(sm_net_forward_cond(cn, xc, sc2, ctx, 2, 2, 3, after));
        ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
        ck_assert_ok(sm_net_set_context_normalization(cn, csh, csc, 3));
        ck_assert_int_eq(sm_net_has_context_normalization(cn), 1);
        ck_assert_int_eq(sm_net_has_context_normalization(NULL), 0);
        ck_assert_ok(sm_net_forward_cond(cn, xc, sc2, ctx, 2, 2, 3, before));
        /* Bad calls on an attached one leave it, and the outputs, as they were. */
        const float other_sh[3] = {0, 0, 0}, other_sc[3] = {1, 0, 1};
        BAD(sm_net_set_context_normalization(cn, other_sh, other_sc, 3), SM_ERR_INVALID_ARG);
        BAD(sm_net_set_context_normalization(cn, other_sh, other_sc, 1), SM_ERR_SHAPE);
        BAD(sm_net_get_context_normalization(NULL, got_sh, got_sc, 3), SM_ERR_INVALID_ARG);
        BAD(sm_net_get_context_normalization(cn, got_sh, got_sc, 2), SM_ERR_SHAPE);
        ck_assert_ok(sm_net_get_context_normalization(cn, got_sh, got_sc, 3));
        ck_assert_int_eq(memcmp(got_sh, csh, sizeof csh), 0);
        ck_assert_int_eq(memcmp(got_sc, csc, sizeof csc), 0);
        ck_assert_ok(sm_net_forward_cond(cn, xc, sc2, ctx, 2, 2, 3, after));
        ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
        /* A NaN context is still refused with a normalization attached. */
        float nan_ctx[6] = {3, -1, 0, 9, NAN, -4};
        BAD(sm_net_forward_cond(cn, xc, sc2, nan_ctx, 2, 2, 3, after), SM_ERR_NONFINITE);
        ck_assert_ok(sm_net_set_context_normalization(cn, NULL, NULL, 0)); /* removed */
        ck_assert_int_eq(sm_net_has_context_normalization(cn), 0);
        ck_assert_ok(sm_net_get_context_normalization(cn, got_sh, got_sc, 3));
        ck_assert_float_eq(got_sh[0], 0.0f);
        ck_assert_float_eq(got_sc[0], 1.0f);
        sm_net_free(cn);
    }

    /* σ_data of data, σ sampling, learning-rate schedule. */
    double sd;
    BAD(sm_dataset_sigma_data(NULL, &sd), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_sigma_data(g.ds, NULL), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_sigma_sampling(NULL, SM_SIGMA_LADDER, 0, 0), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_sigma_sampling(g.tr, (sm_sigma_sampling)2, 0, 0), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_sigma_sampling(g.tr, SM_SIGMA_LOGNORMAL, INFINITY, 1), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_sigma_sampling(g.tr, SM_SIGMA_LOGNORMAL, 0, NAN), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_sigma_sampling(g.tr, SM_SIGMA_LOGNORMAL, 0, 11), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_lr_schedule(NULL, 1, 2, 0.5), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_lr_schedule(g.tr, 3, 2, 0.5), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_lr_schedule(g.tr, 0, 2, -0.5), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_lr_schedule(g.tr, 0, 2, INFINITY), SM_ERR_INVALID_ARG);

    /* Sampler kinds by name, churn. */
    sm_sampler_kind k;
    BAD(sm_sampler_kind_from_name(NULL, &k), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_kind_from_name("edm", &k), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_kind_from_name("", &k), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_kind_from_name("pc", NULL), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_churn(NULL, 1, 0, 1, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_churn(g.smp, -1, 0, 1, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_churn(g.smp, 1, NAN, 1, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_churn(g.smp, 1, 0, NAN, 1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_churn(g.smp, 1, 0, 1, -1), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_kind(g.smp, (sm_sampler_kind)(SM_SAMPLER_DPMPP_2M + 1)),
        SM_ERR_INVALID_ARG);
    sm_net_free(n);
    rig_free(&g);
}
END_TEST


/* ---- contexts and guidance ---------------------------------------------- */

START_TEST(conditional_functions)
{
    rig g;
    rig_make(&g);
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 2;
    o.width = 8;
    o.depth = 1;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = 1.0;
    o.context_dim = 2;
    sm_net *n;
    o.context_dim = (size_t)1 << 40;
    BAD_NEW(n, sm_net_new_ex(&n, &o, g.rng), SM_ERR_OVERFLOW);
    o.context_dim = 2;
    ck_assert_ok(sm_net_new_ex(&n, &o, g.rng));

    /* Passes: wrong width, NaN and infinity in a context, a context for a
     * network without one. Outputs are not written on failure. */
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, s[4] = {0.5f, 0.5f, 0.1f, 1.0f};
    float ctx[8] = {1, 0, 0, 1, 1, 0, 0, 1}, out[8], keep[8], v[8] = {1, 0, 0, 1, 1, 1, 0, 0};
    memset(out, 0x7f, sizeof out);
    memcpy(keep, out, sizeof out);
    BAD(sm_net_forward_cond(n, x, s, ctx, 4, 2, 3, out), SM_ERR_SHAPE);
    BAD(sm_net_forward_cond(g.net, x, s, ctx, 4, 2, 2, out), SM_ERR_SHAPE);
    ctx[5] = NAN;
    BAD(sm_net_forward_cond(n, x, s, ctx, 4, 2, 2, out), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "row 2"));
    ctx[5] = INFINITY;
    BAD(sm_net_denoise_cond(n, x, s, ctx, 4, 2, 2, out), SM_ERR_NONFINITE);
    BAD(sm_net_jvp_cond(n, x, s, ctx, v, 4, 2, 2, NULL, out), SM_ERR_NONFINITE);
    ck_assert_int_eq(memcmp(out, keep, sizeof out), 0);
    ctx[5] = 0;
    ck_assert_ok(sm_net_forward_cond(n, x, s, ctx, 4, 2, 2, out));
    ck_assert_ok(sm_net_jvp_cond(n, x, s, ctx, v, 4, 2, 2, NULL, out));

    /* Labels outside the classes. */
    const int32_t labels[3] = {0, 2, 1};
    BAD(sm_labels_one_hot(labels, 3, 2, out), SM_ERR_INVALID_ARG);
    BAD(sm_labels_one_hot(NULL, 3, 2, out), SM_ERR_INVALID_ARG);

    /* Data set contexts: shape, NaN, zero width; the old ones stay. */
    sm_dataset *ds;
    ck_assert_ok(sm_dataset_clone(g.ds, &ds));
    const size_t nd = sm_dataset_size(ds);
    float *dc = calloc(nd * 2, sizeof(float));
    ck_assert_ok(sm_labels_one_hot(sm_dataset_labels(ds), nd, 2, dc));
    ck_assert_ok(sm_dataset_set_context(ds, dc, nd, 2));
    BAD(sm_dataset_set_context(ds, dc, nd - 1, 2), SM_ERR_SHAPE);
    BAD(sm_dataset_set_context(ds, dc, nd, 0), SM_ERR_INVALID_ARG);
    BAD(sm_dataset_set_context(NULL, dc, nd, 2), SM_ERR_INVALID_ARG);
    dc[7] = NAN;
    BAD(sm_dataset_set_context(ds, dc, nd, 1), SM_ERR_NONFINITE);
    ck_assert_uint_eq(sm_dataset_context_dim(ds), 2);
    ck_assert(isfinite(sm_dataset_context(ds)[7]));

    /* Training: contexts of another width, labels beyond the width, none. */
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(n), 1e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, n, g.sched, opt, 16));
    ck_assert_double_eq(sm_trainer_context_dropout(tr), 0.1);
    BAD(sm_trainer_set_context_dropout(tr, NAN), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_context_dropout(tr, 1.5), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_context_dropout(tr, -0.1), SM_ERR_INVALID_ARG);
    BAD(sm_trainer_set_context_dropout(g.tr, 0.2), SM_ERR_STATE);
    ck_assert_double_eq(sm_trainer_context_dropout(tr), 0.1);
    const size_t np = sm_net_num_params(n);
    float *before = malloc(np * sizeof(float));
    memcpy(before, sm_net_params(n), np * sizeof(float));
    dc[7] = 0;
    ck_assert_ok(sm_dataset_set_context(ds, dc, nd, 1 /* width 1: nd×1 prefix */));
    BAD(sm_trainer_fit(tr, ds, 2, g.rng, NULL, NULL, NULL), SM_ERR_SHAPE);
    ck_assert_ok(sm_dataset_set_context(ds, NULL, 0, 0));
    int32_t *three = malloc(nd * sizeof *three);
    for (size_t i = 0; i < nd; i++)
        three[i] = (int32_t)(i % 3);
    ck_assert_ok(sm_dataset_set_labels(ds, three, nd));
    BAD(sm_trainer_fit(tr, ds, 2, g.rng, NULL, NULL, NULL), SM_ERR_SHAPE);
    ck_assert_ok(sm_dataset_set_labels(ds, NULL, 0));
    BAD(sm_trainer_fit(tr, ds, 2, g.rng, NULL, NULL, NULL), SM_ERR_STATE);
    ck_assert_int_eq(memcmp(before, sm_net_params(n), np * sizeof(float)), 0);

    /* Sampler: width, NaN, a network without a context, guidance values,
     * rows that do not match the run, guidance without a context. */
    sm_sampler *smp;
    ck_assert_ok(sm_sampler_new(&smp, n, g.sched));
    ck_assert_ok(sm_sampler_set_kind(smp, SM_SAMPLER_DPMPP_2M));
    BAD(sm_sampler_set_context(smp, ctx, 4, 3), SM_ERR_SHAPE);
    BAD(sm_sampler_set_context(smp, ctx, 0, 2), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_context(g.smp, ctx, 4, 2), SM_ERR_SHAPE);
    BAD(sm_sampler_set_context(NULL, ctx, 4, 2), SM_ERR_INVALID_ARG);
    const double bad_w[4] = {NAN, -1.0, INFINITY, -INFINITY};
    for (int i = 0; i < 4; i++)
        BAD(sm_sampler_set_guidance(smp, bad_w[i], 0.0, INFINITY), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_guidance(smp, 1.0, NAN, 1.0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_guidance(smp, 1.0, 2.0, 1.0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_guidance(smp, 1.0, -1.0, 1.0), SM_ERR_INVALID_ARG);
    BAD(sm_sampler_set_guidance(smp, 1.0, 0.0, NAN), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_sampler_set_guidance(smp, 1.0, 0.0, INFINITY));
    float y[8];
    BAD(sm_sampler_run(smp, g.rng, y, 4, 2), SM_ERR_STATE); /* guidance, no context */
    ck_assert_ok(sm_sampler_set_context(smp, ctx, 4, 2));
    ctx[0] = NAN;
    BAD(sm_sampler_set_context(smp, ctx, 4, 2), SM_ERR_NONFINITE);
    BAD(sm_sampler_run(smp, g.rng, y, 3, 2), SM_ERR_SHAPE);
    ck_assert_ok(sm_sampler_run(smp, g.rng, y, 4, 2)); /* the earlier contexts stayed */
    ck_assert_uint_eq(sm_sampler_nfe(smp), 2 * sm_schedule_levels(g.sched));

    sm_sampler_free(smp);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    free(three);
    free(before);
    free(dc);
    sm_dataset_free(ds);
    sm_net_free(n);
    rig_still_usable(&g);
    rig_free(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, version_and_error);
    tcase_add_test(tc, rng_functions);
    tcase_add_test(tc, dataset_functions);
    tcase_add_test(tc, toydata_functions);
    tcase_add_test(tc, metrics_functions);
    tcase_add_test(tc, schedule_functions);
    tcase_add_test(tc, net_functions);
    tcase_add_test(tc, nonfinite_parameters);
    tcase_add_test(tc, optim_functions);
    tcase_add_test(tc, train_functions);
    tcase_add_test(tc, beyond_the_lab_functions);
    tcase_add_test(tc, real_data_functions);
    tcase_add_test(tc, sampler_functions);
    tcase_add_test(tc, model_functions);
    tcase_add_test(tc, conditional_functions);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
