/* Scatter plots with cairo; a stub that reports the missing feature
 * otherwise. */
#define _DEFAULT_SOURCE 1 /* M_PI */
#include <math.h>
#include <stdio.h>

#include "plot.h"

#ifdef HAVE_CAIRO
#include <cairo.h>

int plot_available(void)
{
    return 1;
}

int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (size_t s = 0; s < n_series; s++)
        for (size_t i = 0; i < series[s].n; i++)
            for (int j = 0; j < 2; j++) {
                double v = series[s].xy[i * 2 + j];
                if (isfinite(v)) {
                    lo[j] = fmin(lo[j], v);
                    hi[j] = fmax(hi[j], v);
                }
            }
    if (!(hi[0] >= lo[0]) || !(hi[1] >= lo[1])) {
        lo[0] = lo[1] = -1;
        hi[0] = hi[1] = 1;
    }
    /* Equal axes: one scale for both, centred, with a margin. */
    const double margin = 40, top = 50;
    double span = fmax(hi[0] - lo[0], hi[1] - lo[1]) * 1.08 + 1e-9;
    double scale = fmin((width - 2 * margin) / span, (height - top - margin) / span);
    double cx = 0.5 * (lo[0] + hi[0]), cy = 0.5 * (lo[1] + hi[1]);
    double px0 = width / 2.0, py0 = top + (height - top - margin) / 2.0;

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, px0 - span * scale / 2, py0 - span * scale / 2, span * scale, span * scale);
    cairo_stroke(cr);
    for (size_t s = 0; s < n_series; s++) {
        cairo_set_source_rgba(cr, series[s].r, series[s].g, series[s].b, series[s].a);
        for (size_t i = 0; i < series[s].n; i++) {
            double x = series[s].xy[i * 2], y = series[s].xy[i * 2 + 1];
            if (!isfinite(x) || !isfinite(y))
                continue;
            cairo_arc(cr, px0 + (x - cx) * scale, py0 - (y - cy) * scale, 1.6, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 16);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, margin, 30);
    cairo_show_text(cr, title ? title : "");
    cairo_set_font_size(cr, 13);
    double ly = top + 10;
    for (size_t s = 0; s < n_series; s++) {
        if (!series[s].label)
            continue;
        cairo_set_source_rgba(cr, series[s].r, series[s].g, series[s].b, 1.0);
        cairo_arc(cr, width - 150, ly, 5, 0, 2 * M_PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, width - 140, ly + 4);
        cairo_show_text(cr, series[s].label);
        ly += 20;
    }
    cairo_status_t st = cairo_surface_write_to_png(surf, path);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        if (err)
            snprintf(err, err_len, "cannot write '%s': %s", path, cairo_status_to_string(st));
        return -1;
    }
    return 0;
}

#else

int plot_available(void)
{
    return 0;
}

int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len)
{
    (void)path; (void)series; (void)n_series; (void)title; (void)width; (void)height;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

#endif
