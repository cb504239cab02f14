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
 * a title and a legend, into a width × height PNG. Returns 0 on success,
 * -1 on failure (message in err, which may be NULL). */
int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len);

#endif
