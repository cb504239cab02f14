/* The example programs' plots (examples/plot.c): argument checks, the
 * image's size, and where the points, ticks, labels and title land. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>

#include "plot.h"

static char path[64];

static void setup(void)
{
    strcpy(path, "/tmp/sm-plot-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(path);
}

/* The PNG at path, read back. */
typedef struct {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *px;
} image;

static image load(void)
{
    image im;
    im.s = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(im.s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(im.s);
    im.w = cairo_image_surface_get_width(im.s);
    im.h = cairo_image_surface_get_height(im.s);
    im.stride = cairo_image_surface_get_stride(im.s);
    im.px = cairo_image_surface_get_data(im.s);
    return im;
}

/* Pixels in [x0, x1) × [y0, y1) that are pure-ish red (the test's points),
 * or dark grey to black (text, ticks, frame). */
static int count(const image *im, int x0, int y0, int x1, int y1, int red)
{
    int n = 0;
    for (int y = y0; y < y1 && y < im->h; y++)
        for (int x = x0; x < x1 && x < im->w; x++) {
            const unsigned char *p = im->px + (size_t)y * (size_t)im->stride + 4 * (size_t)x;
            int b = p[0], g = p[1], r = p[2]; /* cairo's native-endian ARGB32/RGB24 */
            if (red ? (r > 200 && g < 80 && b < 80) : (r < 110 && g < 110 && b < 110))
                n++;
        }
    return n;
}

/* 100 points on the diagonal from (0, 0) to (1, 1) in columns 0 and 2 of
 * a 3-column set; column 1 is constant 5. */
static float pts[100 * 3];

static plot_set red_set(void)
{
    for (int i = 0; i < 100; i++) {
        pts[i * 3] = (float)i / 99.0f;
        pts[i * 3 + 1] = 5.0f;
        pts[i * 3 + 2] = (float)i / 99.0f;
    }
    return (plot_set){pts, 100, 3, 1.0, 0.0, 0.0, 1.0, NULL};
}

START_TEST(bad_arguments)
{
    plot_set s = red_set();
    char err[256] = "";
    size_t cols[3] = {0, 3, 1};
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 2, NULL, NULL, 400, 400, err,
                                      sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "column 3 does not exist"));
    ck_assert_ptr_nonnull(strstr(err, "3 columns"));
    cols[1] = 1;
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 1, NULL, NULL, 400, 400, err,
                                      sizeof err), -1);
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, PLOT_MAX_COLUMNS + 1, NULL, NULL, 400,
                                      400, err, sizeof err), -1);
    ck_assert_int_eq(plot_columns_png(path, &s, 0, cols, 2, NULL, NULL, 400, 400, err,
                                      sizeof err), -1);
    ck_assert_int_eq(plot_columns_png(path, NULL, 1, cols, 2, NULL, NULL, 400, 400, err,
                                      sizeof err), -1);
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 2, NULL, NULL, 50, 400, err,
                                      sizeof err), -1);
    ck_assert_int_eq(plot_columns_png("/nonexistent-sm-dir/p.png", &s, 1, cols, 2, NULL, NULL,
                                      400, 400, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-sm-dir/p.png"));
}
END_TEST

START_TEST(scatter_points_ticks_and_labels)
{
    plot_set s = red_set();
    char err[256] = "";
    const size_t cols[2] = {0, 2};
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 2, NULL, NULL, 500, 400, err,
                                      sizeof err), 0);
    image im = load();
    ck_assert_int_eq(im.w, 500);
    ck_assert_int_eq(im.h, 400);
    /* The diagonal runs from bottom left to top right: red in those
     * quarters of the plot area only. */
    const int mx = im.w / 2 + 20, my = im.h / 2 - 15;
    ck_assert_int_gt(count(&im, 0, my, mx, im.h, 1), 20);
    ck_assert_int_gt(count(&im, mx, 0, im.w, my, 1), 20);
    ck_assert_int_eq(count(&im, 0, 0, mx - 60, my - 60, 1), 0);
    ck_assert_int_eq(count(&im, mx + 60, my + 60, im.w, im.h, 1), 0);
    /* Find the points' extent, then: tick labels left of it and below it,
     * the axis names below the tick labels and at the left edge. */
    int xmin = im.w, xmax = 0, ymin = im.h, ymax = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++)
            if (count(&im, x, y, x + 1, y + 1, 1)) {
                xmin = x < xmin ? x : xmin, xmax = x > xmax ? x : xmax;
                ymin = y < ymin ? y : ymin, ymax = y > ymax ? y : ymax;
            }
    ck_assert_int_gt(count(&im, 20, ymin, xmin - 8, ymax, 0), 30);     /* y tick labels */
    ck_assert_int_gt(count(&im, xmin, ymax + 10, xmax, im.h - 20, 0), 30); /* x tick labels */
    ck_assert_int_gt(count(&im, 0, ymin, 20, ymax, 0), 5);             /* "x2" turned */
    ck_assert_int_gt(count(&im, xmin, im.h - 20, xmax, im.h, 0), 5);   /* "x0" */
    /* No title: no band either; the frame's top edge runs 10 pixels from
     * the top, with nothing above it. */
    ck_assert_int_eq(count(&im, 0, 0, im.w, 8, 0), 0);
    ck_assert_int_gt(count(&im, 0, 9, im.w, 12, 0), 300);
    cairo_surface_destroy(im.s);
    /* With a title the band holds text. */
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 2, NULL, "A title", 500, 400, err,
                                      sizeof err), 0);
    im = load();
    ck_assert_int_gt(count(&im, 0, 0, im.w, 30, 0), 20);
    ck_assert_int_lt(count(&im, 0, 9, im.w, 12, 0), 100); /* the frame moved down */
    cairo_surface_destroy(im.s);
}
END_TEST

START_TEST(legend_inside_the_frame)
{
    plot_set s = red_set();
    s.label = "points";
    char err[256] = "";
    const size_t cols[2] = {0, 2};
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 2, NULL, NULL, 500, 400, err,
                                      sizeof err), 0);
    image im = load();
    /* The legend's text in the top right corner, inside the image and
     * below the top edge (no band above the frame). */
    ck_assert_int_gt(count(&im, im.w - 120, 12, im.w - 14, 45, 0), 20);
    cairo_surface_destroy(im.s);
}
END_TEST

START_TEST(pair_plot_grid)
{
    plot_set s = red_set();
    char err[256] = "";
    const size_t cols[3] = {0, 1, 2};
    const char *const names[3] = {"alpha", NULL, "gamma"};
    ck_assert_int_eq(plot_columns_png(path, &s, 1, cols, 3, names, NULL, 600, 600, err,
                                      sizeof err), 0);
    image im = load();
    ck_assert_int_eq(im.w, 600);
    ck_assert_int_eq(im.h, 600);
    /* Three by three panels in [62, 586] × [10, 552]: every panel has red
     * (points off the diagonal, a histogram on it). */
    const double pw = (600 - 62 - 14 - 16) / 3.0, ph = (600 - 10 - 48 - 16) / 3.0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int x0 = (int)(62 + j * (pw + 8)) + 2, y0 = (int)(10 + i * (ph + 8)) + 2;
            int n = count(&im, x0, y0, x0 + (int)pw - 4, y0 + (int)ph - 4, 1);
            ck_assert_msg(n > 10, "panel (%d, %d): %d red pixels", i, j, n);
        }
    /* Nothing red between the panels. */
    for (int j = 1; j < 3; j++) {
        int gx = (int)(62 + j * (pw + 8)) - 6;
        ck_assert_int_eq(count(&im, gx, 0, gx + 4, im.h, 1), 0);
    }
    cairo_surface_destroy(im.s);
}
END_TEST

START_TEST(scatter_png_has_axes)
{
    plot_set s = red_set();
    float xy[200];
    for (int i = 0; i < 100; i++)
        xy[2 * i] = pts[3 * i], xy[2 * i + 1] = pts[3 * i + 2];
    (void)s;
    const plot_series ser = {xy, 100, 1, 0, 0, 1, NULL};
    char err[256] = "";
    ck_assert_int_eq(plot_scatter_png(path, &ser, 1, NULL, 400, 300, err, sizeof err), 0);
    image im = load();
    ck_assert_int_eq(im.w, 400);
    ck_assert_int_eq(im.h, 300);
    ck_assert_int_gt(count(&im, 0, 0, im.w, im.h, 1), 50);
    ck_assert_int_gt(count(&im, 0, 20, 45, im.h - 40, 0), 30); /* y tick labels */
    ck_assert_int_eq(count(&im, 0, 0, im.w, 8, 0), 0);          /* no title band */
    cairo_surface_destroy(im.s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, scatter_points_ticks_and_labels);
    tcase_add_test(tc, legend_inside_the_frame);
    tcase_add_test(tc, pair_plot_grid);
    tcase_add_test(tc, scatter_png_has_axes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
