/* Toy data generators: geometry, the split of n, labels, shuffling,
 * reproducibility, statistics, and every documented error. */
#include <math.h>
#include <string.h>

#include "testutil.h"

#define PI 3.14159265358979323846

static sm_rng *rng_seeded(uint64_t seed)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, seed));
    return r;
}

static size_t count_label(const sm_dataset *ds, int32_t c)
{
    size_t k = 0;
    for (size_t i = 0; i < sm_dataset_size(ds); i++)
        k += sm_dataset_labels(ds)[i] == c;
    return k;
}

/* Per-label mean and (population) standard deviation of coordinate j. */
static void label_stats(const sm_dataset *ds, int32_t c, size_t j, double *mean, double *sd)
{
    double s1 = 0, s2 = 0;
    size_t k = 0;
    for (size_t i = 0; i < sm_dataset_size(ds); i++) {
        if (sm_dataset_labels(ds)[i] != c)
            continue;
        double v = sm_dataset_row(ds, i)[j];
        s1 += v;
        s2 += v * v;
        k++;
    }
    *mean = s1 / (double)k;
    *sd = sqrt(s2 / (double)k - *mean * *mean);
}

START_TEST(moons_exact_geometry_and_split)
{
    sm_rng *r = rng_seeded(1);
    sm_dataset *ds;
    ck_assert_ok(sm_toy_moons(&ds, 1001, 0.0, 0, r));
    ck_assert_uint_eq(sm_dataset_size(ds), 1001);
    ck_assert_uint_eq(sm_dataset_dim(ds), 2);
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 2);
    /* sklearn: n_out = n // 2 outer (label 0) first, then n - n // 2 inner. */
    for (size_t i = 0; i < 500; i++) {
        double t = PI * (double)i / 499.0;
        const float *p = sm_dataset_row(ds, i);
        ck_assert_int_eq(sm_dataset_labels(ds)[i], 0);
        ck_assert_double_eq_tol(p[0], cos(t), 1e-6);
        ck_assert_double_eq_tol(p[1], sin(t), 1e-6);
    }
    for (size_t i = 0; i < 501; i++) {
        double t = PI * (double)i / 500.0;
        const float *p = sm_dataset_row(ds, 500 + i);
        ck_assert_int_eq(sm_dataset_labels(ds)[500 + i], 1);
        ck_assert_double_eq_tol(p[0], 1.0 - cos(t), 1e-6);
        ck_assert_double_eq_tol(p[1], 0.5 - sin(t), 1e-6);
    }
    /* End points of the arcs. */
    ck_assert_double_eq_tol(sm_dataset_row(ds, 0)[0], 1.0, 1e-7);
    ck_assert_double_eq_tol(sm_dataset_row(ds, 499)[0], -1.0, 1e-7);
    ck_assert_double_eq_tol(sm_dataset_row(ds, 1000)[0], 2.0, 1e-7);
    sm_dataset_free(ds);

    /* Tiny n: one point goes to the inner moon at t = 0. */
    ck_assert_ok(sm_toy_moons(&ds, 1, 0.0, 1, r));
    ck_assert_int_eq(sm_dataset_labels(ds)[0], 1);
    ck_assert_double_eq_tol(sm_dataset_row(ds, 0)[0], 0.0, 1e-7);
    ck_assert_double_eq_tol(sm_dataset_row(ds, 0)[1], 0.5, 1e-7);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

/* Distance of p from moon c's full circle (centre and radius 1). */
static double moon_residual(const float *p, int c)
{
    double cx = c == 0 ? 0.0 : 1.0, cy = c == 0 ? 0.0 : 0.5;
    return hypot(p[0] - cx, p[1] - cy) - 1.0;
}

START_TEST(moons_noise_and_shuffle)
{
    sm_rng *r = rng_seeded(2);
    sm_dataset *ds;
    const size_t n = 20000;
    const double noise = 0.1;
    ck_assert_ok(sm_toy_moons(&ds, n, noise, 1, r));
    ck_assert_uint_eq(count_label(ds, 0), n / 2);
    ck_assert_uint_eq(count_label(ds, 1), n - n / 2);
    /* Shuffled: the labels are no longer in two runs. */
    size_t changes = 0;
    for (size_t i = 1; i < n; i++)
        changes += sm_dataset_labels(ds)[i] != sm_dataset_labels(ds)[i - 1];
    ck_assert_uint_gt(changes, n / 4);
    /* Labels travelled with their points: the radial residual from the
     * labelled moon's circle has standard deviation ~noise, and no point is
     * further than 6 sigma from its arc. */
    double s2 = 0, s1 = 0;
    for (size_t i = 0; i < n; i++) {
        double e = moon_residual(sm_dataset_row(ds, i), sm_dataset_labels(ds)[i]);
        ck_assert_double_lt(fabs(e), 6 * noise);
        s1 += e;
        s2 += e * e;
    }
    double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    ck_assert_double_eq_tol(sd, noise, 0.1 * noise);
    ck_assert_double_lt(fabs(mean), 0.02);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(reproducible_for_a_seed)
{
    sm_dataset *a, *b, *c;
    sm_rng *r1 = rng_seeded(42), *r2 = rng_seeded(42), *r3 = rng_seeded(43);
    ck_assert_ok(sm_toy_moons(&a, 500, 0.05, 1, r1));
    ck_assert_ok(sm_toy_moons(&b, 500, 0.05, 1, r2));
    ck_assert_ok(sm_toy_moons(&c, 500, 0.05, 1, r3));
    ck_assert_int_eq(memcmp(sm_dataset_data(a), sm_dataset_data(b), 1000 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sm_dataset_labels(a), sm_dataset_labels(b), 500 * sizeof(int32_t)),
                     0);
    ck_assert_int_ne(memcmp(sm_dataset_data(a), sm_dataset_data(c), 1000 * sizeof(float)), 0);
    sm_dataset_free(a);
    sm_dataset_free(b);
    sm_dataset_free(c);
    sm_rng_free(r1);
    sm_rng_free(r2);
    sm_rng_free(r3);
    /* Every other generator too. */
    for (int g = 0; g < 8; g++) {
        sm_dataset *d[2];
        for (int k = 0; k < 2; k++) {
            sm_rng *r = rng_seeded(7);
            switch (g) {
            case 0: ck_assert_ok(sm_toy_circles(&d[k], 301, 0.05, 0.5, 1, r)); break;
            case 1: ck_assert_ok(sm_toy_blobs(&d[k], 301, 3, NULL, 4, 1.0, 1, r)); break;
            case 2: ck_assert_ok(sm_toy_swiss_roll(&d[k], 301, 0.1, NULL, r)); break;
            case 3: ck_assert_ok(sm_toy_spirals(&d[k], 301, 0.1, 1, r)); break;
            case 4: ck_assert_ok(sm_toy_checkerboard(&d[k], 301, 1, r)); break;
            case 5: ck_assert_ok(sm_toy_eight_gaussians(&d[k], 301, 2.0, 0.1, 1, r)); break;
            case 6: ck_assert_ok(sm_toy_pinwheel(&d[k], 301, 5, 0.3, 0.1, 0.25, 1, r)); break;
            default: {
                float mu[4] = {0, 0, 5, 5};
                ck_assert_ok(sm_toy_gaussian_mixture(&d[k], 301, 2, mu, NULL, NULL, 2, r));
            }
            }
            sm_rng_free(r);
        }
        size_t bytes = sm_dataset_size(d[0]) * sm_dataset_dim(d[0]) * sizeof(float);
        ck_assert_msg(memcmp(sm_dataset_data(d[0]), sm_dataset_data(d[1]), bytes) == 0,
                      "generator %d not reproducible", g);
        ck_assert_int_eq(memcmp(sm_dataset_labels(d[0]), sm_dataset_labels(d[1]),
                                sm_dataset_size(d[0]) * sizeof(int32_t)),
                         0);
        sm_dataset_free(d[0]);
        sm_dataset_free(d[1]);
    }
}
END_TEST

START_TEST(circles_radii_and_split)
{
    sm_rng *r = rng_seeded(3);
    sm_dataset *ds;
    ck_assert_ok(sm_toy_circles(&ds, 999, 0.0, SM_TOY_CIRCLES_FACTOR_DEFAULT, 0, r));
    ck_assert_uint_eq(count_label(ds, 0), 499);
    ck_assert_uint_eq(count_label(ds, 1), 500);
    for (size_t i = 0; i < 999; i++) {
        const float *p = sm_dataset_row(ds, i);
        int outer = i < 499;
        ck_assert_int_eq(sm_dataset_labels(ds)[i], outer ? 0 : 1);
        ck_assert_double_eq_tol(hypot(p[0], p[1]), outer ? 1.0 : 0.8, 1e-6);
        /* Evenly spaced angles, end point excluded. */
        size_t k = outer ? i : i - 499, m = outer ? 499 : 500;
        double t = 2 * PI * (double)k / (double)m;
        double rad = outer ? 1.0 : 0.8;
        ck_assert_double_eq_tol(p[0], rad * cos(t), 1e-6);
        ck_assert_double_eq_tol(p[1], rad * sin(t), 1e-6);
    }
    sm_dataset_free(ds);
    /* With noise and shuffle: the labelled radius, within the noise. */
    ck_assert_ok(sm_toy_circles(&ds, 10000, 0.02, 0.3, 1, r));
    double s = 0;
    for (size_t i = 0; i < 10000; i++) {
        const float *p = sm_dataset_row(ds, i);
        double e = hypot(p[0], p[1]) - (sm_dataset_labels(ds)[i] ? 0.3 : 1.0);
        ck_assert_double_lt(fabs(e), 0.12);
        s += e * e;
    }
    ck_assert_double_eq_tol(sqrt(s / 10000), 0.02, 0.003);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(blobs_given_centres)
{
    sm_rng *r = rng_seeded(4);
    const float centres[9] = {0, 0, 0, 10, -5, 2, -8, 8, 1};
    sm_dataset *ds;
    ck_assert_ok(sm_toy_blobs(&ds, 30001, 3, centres, 3, 0.5, 1, r));
    ck_assert_uint_eq(sm_dataset_dim(ds), 3);
    /* n // k each, the first n % k one more. */
    ck_assert_uint_eq(count_label(ds, 0), 10001);
    ck_assert_uint_eq(count_label(ds, 1), 10000);
    ck_assert_uint_eq(count_label(ds, 2), 10000);
    for (int c = 0; c < 3; c++)
        for (size_t j = 0; j < 3; j++) {
            double m, sd;
            label_stats(ds, c, j, &m, &sd);
            ck_assert_double_eq_tol(m, centres[c * 3 + j], 0.02);
            ck_assert_double_eq_tol(sd, 0.5, 0.02);
        }
    sm_dataset_free(ds);
    /* Unshuffled: blob by blob. */
    ck_assert_ok(sm_toy_blobs(&ds, 7, 3, centres, 3, 0.0, 0, r));
    const int32_t want[7] = {0, 0, 0, 1, 1, 2, 2};
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(sm_dataset_labels(ds)[i], want[i]);
        ck_assert_float_eq(sm_dataset_row(ds, (size_t)i)[1], centres[want[i] * 3 + 1]);
    }
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(blobs_random_centres_in_box)
{
    sm_rng *r = rng_seeded(5);
    sm_dataset *ds;
    ck_assert_ok(sm_toy_blobs(&ds, 2000, 2, NULL, 5, 0.0, 0, r));
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 5);
    /* std 0: every point is its centre, inside [-10, 10]^2; centres differ. */
    float first[5][2];
    for (int c = 0; c < 5; c++) {
        const float *p = sm_dataset_row(ds, (size_t)c * 400);
        first[c][0] = p[0];
        first[c][1] = p[1];
        ck_assert_float_ge(p[0], -10.0f);
        ck_assert_float_lt(p[0], 10.0f);
        ck_assert_float_ge(p[1], -10.0f);
        ck_assert_float_lt(p[1], 10.0f);
    }
    for (size_t i = 0; i < 2000; i++) {
        int c = sm_dataset_labels(ds)[i];
        ck_assert_int_eq(c, (int)(i / 400));
        ck_assert_float_eq(sm_dataset_row(ds, i)[0], first[c][0]);
    }
    ck_assert_float_ne(first[0][0], first[1][0]);
    sm_dataset_free(ds);
    /* Over many draws the centres are uniform in the box: mean ~0, spread
     * ~20/sqrt(12). */
    ck_assert_ok(sm_toy_blobs(&ds, 4000, 1, NULL, 4000, 0.0, 0, r));
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < 4000; i++) {
        double v = sm_dataset_row(ds, i)[0];
        s1 += v;
        s2 += v * v;
    }
    ck_assert_double_eq_tol(s1 / 4000, 0.0, 0.5);
    ck_assert_double_eq_tol(sqrt(s2 / 4000), 20 / sqrt(12.0), 0.3);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(gaussian_mixture_weights)
{
    sm_rng *r = rng_seeded(6);
    const float means[6] = {-5, 0, 5, 0, 0, 5};
    const double w[3] = {0.6, 0.0, 0.4}, sd[3] = {0.5, 1.0, 0.25};
    sm_dataset *ds;
    const size_t n = 20000;
    ck_assert_ok(sm_toy_gaussian_mixture(&ds, n, 2, means, sd, w, 3, r));
    size_t n0 = count_label(ds, 0), n1 = count_label(ds, 1), n2 = count_label(ds, 2);
    ck_assert_uint_eq(n1, 0); /* zero weight never drawn */
    ck_assert_uint_eq(n0 + n2, n);
    /* Binomial(20000, 0.6): sd ~69; allow 5 sd. */
    ck_assert_double_eq_tol((double)n0, 0.6 * n, 350);
    double m, s;
    label_stats(ds, 0, 0, &m, &s);
    ck_assert_double_eq_tol(m, -5.0, 0.03);
    ck_assert_double_eq_tol(s, 0.5, 0.02);
    label_stats(ds, 2, 1, &m, &s);
    ck_assert_double_eq_tol(m, 5.0, 0.02);
    ck_assert_double_eq_tol(s, 0.25, 0.01);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(swiss_roll_geometry)
{
    sm_rng *r = rng_seeded(8);
    sm_dataset *ds;
    const size_t n = 5000;
    float *t = malloc(n * sizeof(float));
    ck_assert_ok(sm_toy_swiss_roll(&ds, n, 0.0, t, r));
    ck_assert_uint_eq(sm_dataset_dim(ds), 2);
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 1);
    double tsum = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = sm_dataset_row(ds, i);
        ck_assert_float_ge(t[i], (float)(1.5 * PI) - 1e-5f);
        ck_assert_float_le(t[i], (float)(4.5 * PI) + 1e-5f);
        /* x = t cos t, z = t sin t: distance from origin t, angle t. */
        ck_assert_double_eq_tol(hypot(p[0], p[1]), t[i], 1e-4 * t[i]);
        ck_assert_double_eq_tol(p[0], t[i] * cos(t[i]), 1e-4 * t[i]);
        ck_assert_double_eq_tol(p[1], t[i] * sin(t[i]), 1e-4 * t[i]);
        tsum += t[i];
    }
    /* t = 1.5 pi (1 + 2u): uniform on [1.5 pi, 4.5 pi], mean 3 pi. */
    ck_assert_double_eq_tol(tsum / n, 3 * PI, 0.1);
    sm_dataset_free(ds);
    /* With noise: distance from the noise-free point ~ noise. */
    sm_rng *r2 = rng_seeded(8);
    sm_dataset *noisy;
    ck_assert_ok(sm_toy_swiss_roll(&noisy, n, 0.5, t, r2));
    double s2 = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = sm_dataset_row(noisy, i);
        double dx = p[0] - t[i] * cos(t[i]), dz = p[1] - t[i] * sin(t[i]);
        s2 += dx * dx + dz * dz;
    }
    ck_assert_double_eq_tol(sqrt(s2 / (2.0 * n)), 0.5, 0.03);
    sm_dataset_free(noisy);
    free(t);
    sm_rng_free(r);
    sm_rng_free(r2);
}
END_TEST

START_TEST(spirals_geometry)
{
    sm_rng *r = rng_seeded(9);
    sm_dataset *ds;
    ck_assert_ok(sm_toy_spirals(&ds, 3001, 0.0, 1, r));
    ck_assert_uint_eq(count_label(ds, 0), 1500);
    ck_assert_uint_eq(count_label(ds, 1), 1501);
    for (size_t i = 0; i < 3001; i++) {
        const float *p = sm_dataset_row(ds, i);
        double s = sm_dataset_labels(ds)[i] == 0 ? 1.0 : -1.0;
        double t = 3.0 * hypot(p[0], p[1]); /* |(t cos t, t sin t)| / 3 */
        ck_assert_double_le(t, 3 * PI + 1e-4);
        ck_assert_double_eq_tol(p[0], -s * t * cos(t) / 3, 1e-4);
        ck_assert_double_eq_tol(p[1], s * t * sin(t) / 3, 1e-4);
    }
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(checkerboard_squares)
{
    sm_rng *r = rng_seeded(10);
    sm_dataset *ds;
    const size_t n = 8003;
    ck_assert_ok(sm_toy_checkerboard(&ds, n, 1, r));
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 8);
    for (int c = 0; c < 8; c++)
        ck_assert_uint_eq(count_label(ds, c), c < 3 ? 1001 : 1000);
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = sm_dataset_row(ds, i);
        ck_assert(p[0] >= -4.0f && p[0] < 4.0f && p[1] >= -4.0f && p[1] < 4.0f);
        int ci = (int)floor((p[0] + 4.0) / 2.0), cj = (int)floor((p[1] + 4.0) / 2.0);
        ck_assert_int_eq((ci + cj) % 2, 0); /* black squares only */
        ck_assert_int_eq(sm_dataset_labels(ds)[i], 2 * ci + cj / 2);
        sx += p[0];
        sy += p[1];
    }
    ck_assert_double_eq_tol(sx / n, 0.0, 0.1);
    ck_assert_double_eq_tol(sy / n, 0.0, 0.1);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(eight_gaussians_ring)
{
    sm_rng *r = rng_seeded(11);
    sm_dataset *ds;
    const double radius = 2.0 * sqrt(2.0), sd = 0.5 / sqrt(2.0);
    ck_assert_ok(sm_toy_eight_gaussians(&ds, 16000, radius, sd, 1, r));
    ck_assert_uint_eq(sm_dataset_num_labels(ds), 8);
    for (int c = 0; c < 8; c++) {
        ck_assert_uint_eq(count_label(ds, c), 2000);
        double mx, my, sx, sy;
        label_stats(ds, c, 0, &mx, &sx);
        label_stats(ds, c, 1, &my, &sy);
        ck_assert_double_eq_tol(mx, radius * cos(2 * PI * c / 8), 0.04);
        ck_assert_double_eq_tol(my, radius * sin(2 * PI * c / 8), 0.04);
        ck_assert_double_eq_tol(sx, sd, 0.02);
        ck_assert_double_eq_tol(sy, sd, 0.02);
    }
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(pinwheel_arms)
{
    sm_rng *r = rng_seeded(12);
    sm_dataset *ds;
    /* Zero spreads: every point of arm c is 2 (cos a, -sin a) with
     * a = 2 pi c / K + rate e. */
    const double rate = 0.25;
    ck_assert_ok(sm_toy_pinwheel(&ds, 53, 5, 0.0, 0.0, rate, 0, r));
    for (size_t i = 0; i < 53; i++) {
        int c = sm_dataset_labels(ds)[i];
        ck_assert_int_eq(c, i < 33 ? (int)(i / 11) : 3 + (int)((i - 33) / 10));
        double a = 2 * PI * c / 5 + rate * exp(1.0);
        ck_assert_double_eq_tol(sm_dataset_row(ds, i)[0], 2 * cos(a), 1e-6);
        ck_assert_double_eq_tol(sm_dataset_row(ds, i)[1], -2 * sin(a), 1e-6);
    }
    sm_dataset_free(ds);
    /* FFJORD's parameters: undo the rotation of the arm's base angle; the
     * radial coordinate f0 = 1 + 0.3 z has mean 1 and sd 0.3. Rotating the
     * point back by the (known) angle a is not possible without f0, but
     * |point| / 2 = |f| whose mean is ~ E|f0| for small f1. */
    ck_assert_ok(sm_toy_pinwheel(&ds, 20000, 5, 0.3, 0.1, rate, 1, r));
    double s = 0;
    for (size_t i = 0; i < 20000; i++) {
        const float *p = sm_dataset_row(ds, i);
        s += hypot(p[0], p[1]) / 2;
    }
    /* E sqrt(f0^2 + f1^2) with f0 ~ N(1, 0.09), f1 ~ N(0, 0.01): ~1.005. */
    ck_assert_double_eq_tol(s / 20000, 1.005, 0.01);
    for (int c = 0; c < 5; c++)
        ck_assert_uint_eq(count_label(ds, c), 4000);
    sm_dataset_free(ds);
    sm_rng_free(r);
}
END_TEST

START_TEST(bad_parameters)
{
    sm_rng *r = rng_seeded(13);
    sm_dataset *ds = (sm_dataset *)1;
    ck_assert_status(sm_toy_moons(NULL, 10, 0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_moons(&ds, 10, 0.1, 1, NULL), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sm_toy_moons"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "rng"));
    ds = (sm_dataset *)1;
    ck_assert_status(sm_toy_moons(&ds, 0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "n must be > 0"));
    ck_assert_status(sm_toy_moons(&ds, 10, -0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "noise"));
    ck_assert_status(sm_toy_moons(&ds, 10, NAN, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_moons(&ds, 10, INFINITY, 1, r), SM_ERR_INVALID_ARG);

    ck_assert_status(sm_toy_circles(&ds, 10, 0.1, 0.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "factor"));
    ck_assert_status(sm_toy_circles(&ds, 10, 0.1, 1.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_circles(&ds, 10, 0.1, -0.5, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_circles(&ds, 10, 0.1, 1.5, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_circles(&ds, 10, 0.1, NAN, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_circles(&ds, 10, -1.0, 0.5, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_circles(&ds, 0, 0.1, 0.5, 1, r), SM_ERR_INVALID_ARG);

    float c2[4] = {0, 0, 1, NAN};
    ck_assert_status(sm_toy_blobs(&ds, 10, 2, NULL, 0, 1.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_blobs(&ds, 10, 0, NULL, 3, 1.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_blobs(&ds, 10, 2, NULL, 3, -1.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_blobs(&ds, 10, 2, c2, 2, 1.0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "centre 1"));
    ck_assert_status(sm_toy_blobs(&ds, SIZE_MAX / 2, 4, NULL, 3, 1.0, 1, r), SM_ERR_OVERFLOW);
    ck_assert_status(sm_toy_blobs(&ds, 10, 2, NULL, 3, 1e39, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "not finite"));

    float mu[2] = {0, 0};
    double wneg[2] = {1, -1}, wzero[2] = {0, 0}, sneg[2] = {1, -1};
    ck_assert_status(sm_toy_gaussian_mixture(&ds, 10, 1, NULL, NULL, NULL, 2, r),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_gaussian_mixture(&ds, 10, 1, mu, NULL, wneg, 2, r),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_gaussian_mixture(&ds, 10, 1, mu, NULL, wzero, 2, r),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_gaussian_mixture(&ds, 10, 1, mu, sneg, NULL, 2, r),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "stds[1]"));
    ck_assert_status(sm_toy_gaussian_mixture(&ds, 10, 1, mu, NULL, NULL, 0, r),
                     SM_ERR_INVALID_ARG);

    ck_assert_status(sm_toy_swiss_roll(&ds, 10, -0.1, NULL, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_swiss_roll(&ds, 0, 0.1, NULL, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_spirals(&ds, 10, -0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_spirals(NULL, 10, 0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_checkerboard(&ds, 0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_checkerboard(&ds, 10, 1, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_eight_gaussians(&ds, 10, 0.0, 0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "radius"));
    ck_assert_status(sm_toy_eight_gaussians(&ds, 10, 2.0, -0.1, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_pinwheel(&ds, 10, 0, 0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_pinwheel(&ds, 10, 5, -0.3, 0.1, 0.25, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_pinwheel(&ds, 10, 5, 0.3, NAN, 0.25, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_toy_pinwheel(&ds, 10, 5, 0.3, 0.1, INFINITY, 1, r),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("toydata");
    TCase *tc = tcase_create("toydata");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, moons_exact_geometry_and_split);
    tcase_add_test(tc, moons_noise_and_shuffle);
    tcase_add_test(tc, reproducible_for_a_seed);
    tcase_add_test(tc, circles_radii_and_split);
    tcase_add_test(tc, blobs_given_centres);
    tcase_add_test(tc, blobs_random_centres_in_box);
    tcase_add_test(tc, gaussian_mixture_weights);
    tcase_add_test(tc, swiss_roll_geometry);
    tcase_add_test(tc, spirals_geometry);
    tcase_add_test(tc, checkerboard_squares);
    tcase_add_test(tc, eight_gaussians_ring);
    tcase_add_test(tc, pinwheel_arms);
    tcase_add_test(tc, bad_parameters);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
