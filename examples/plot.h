/* Scatter plots to PNG for the example programs (cairo). Not part of the
 * library: the library itself never depends on a drawing library. */
#ifndef SM_EXAMPLES_PLOT_H
#define SM_EXAMPLES_PLOT_H

#include <stddef.h>

/* One set of 2-D points to draw. */
typedef struct {
    const float *xy;   /* n × 2 row-major */
    size_t n;
    double r, g, b, a; /* colour and opacity */
    const char *label; /* legend text, or NULL */
} plot_series;

/* 1 if PNG output was compiled in (cairo found), else 0. */
int plot_available(void);

/* Draws the series (in order) on equal axes framing all finite points, with
 * ticks and tick labels, a legend inside the frame (top right) and a title
 * (no title band when title is NULL or empty), into a width × height PNG.
 * At most PLOT_MAX_SETS series. Returns 0 on success, -1 on failure
 * (message in err, which may be NULL). */
int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len);

/* Most point sets and columns plot_columns_png draws. */
#define PLOT_MAX_SETS 8
#define PLOT_MAX_COLUMNS 8
/* plot_columns_png with two columns: one scale for both when their ranges
 * differ by at most this factor, else one each. */
#define PLOT_EQUAL_AXES_RATIO 3.0

/* One n × dim point set (row-major) for plot_columns_png. */
typedef struct {
    const float *x;
    size_t n, dim;
    double r, g, b, a; /* colour and opacity */
    const char *label; /* legend text, or NULL */
} plot_set;

/* Draws columns cols[0 .. k) of the sets (in order, later ones on top),
 * 2 <= k <= PLOT_MAX_COLUMNS, into a width × height PNG:
 * - k = 2: one scatter plot, cols[0] across, cols[1] up;
 * - k > 2: a k × k pair plot: panel (row i, column j) shows cols[j] across
 *   and cols[i] up; the diagonal panels show the histogram of cols[i] of
 *   each set (densities on one scale) and its name.
 * Axes have ticks, tick labels and names: names[c] for column c, or "x<c>"
 * when names (or names[c]) is NULL. The legend (labelled sets) sits inside
 * the top right panel; a title band only when title is neither NULL nor
 * empty. Returns 0, or -1 with a message in err: no set, more than
 * PLOT_MAX_SETS, k out of range, a column >= a set's dim (the message names
 * the column and the set's label), a size below 100 or above 20000. */
int plot_columns_png(const char *path, const plot_set *sets, size_t n_sets, const size_t *cols,
                     size_t k, const char *const *names, const char *title, int width,
                     int height, char *err, size_t err_len);

/* One curve of a line chart: n_x values matching the chart's x values. */
typedef struct {
    const double *y;   /* n_x values; non-finite ones break the line */
    double r, g, b;    /* colour */
    const char *label; /* legend text, or NULL */
} plot_line;

/* Draws a line chart (lines with dots at the data points) of the curves
 * against x (n_x increasing values; log_x non-zero for a log-scale x axis,
 * which needs x > 0), with axis labels, a title and a legend, into a
 * width × height PNG. Returns 0 or -1 (message in err). */
int plot_lines_png(const char *path, const double *x, size_t n_x, const plot_line *lines,
                   size_t n_lines, const char *title, const char *x_label,
                   const char *y_label, int log_x, int width, int height, char *err,
                   size_t err_len);

/* Arrows: n arrows from xy[i] to xy[i] + dxy[i] (both n × 2, data units). */
typedef struct {
    const float *xy;
    const float *dxy;
    size_t n;
    double r, g, b, a;
} plot_arrows;

/* Polylines: n_paths paths of n_pts points each, xy[(p * n_pts + j) * 2]. */
typedef struct {
    const float *xy;
    size_t n_paths, n_pts;
    double r, g, b, a; /* r < 0: a different colour per path (palette) */
} plot_paths;

/* Like plot_scatter_png (equal axes framing the finite points of the
 * series), then draws the arrows (may be NULL) and the paths (may be NULL)
 * on top, clipped to the frame; the paths start with an open circle and
 * end with a dot. Returns 0 or -1 (message in err). */
int plot_field_png(const char *path, const plot_series *series, size_t n_series,
                   const plot_arrows *arrows, const plot_paths *paths, const char *title,
                   int width, int height, char *err, size_t err_len);

/* A grid of small grayscale images (row-major w × h pixels each, n of
 * them, drawn rows × cols), values mapped from [lo, hi] to white … black. */
typedef struct {
    const float *pixels;
    size_t n, w, h, rows, cols;
    float lo, hi;
    const char *label; /* drawn above the grid */
} plot_image_panel;

/* Draws the panels side by side, each pixel a cell × cell square, with a
 * title, into a PNG sized to fit. Returns 0 or -1 (message in err). */
int plot_images_png(const char *path, const plot_image_panel *panels, size_t n_panels,
                    const char *title, int cell, char *err, size_t err_len);

#endif
