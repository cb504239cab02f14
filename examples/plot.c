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

/* Grows [lo, hi] (per axis) to hold the finite coordinates of n points. */
static void bounds_add(double lo[2], double hi[2], const float *xy, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++) {
            double v = xy[i * 2 + j];
            if (isfinite(v)) {
                lo[j] = fmin(lo[j], v);
                hi[j] = fmax(hi[j], v);
            }
        }
}

/* Equal axes: one scale for both, centred in the plot area, with a margin. */
typedef struct {
    double px0, py0, cx, cy, scale, span;
} frame;

static frame frame_fit(const double lo[2], const double hi[2], int width, int height,
                       double margin, double top)
{
    frame f;
    int empty = !(hi[0] >= lo[0]) || !(hi[1] >= lo[1]);
    double l0 = empty ? -1 : lo[0], l1 = empty ? -1 : lo[1];
    double h0 = empty ? 1 : hi[0], h1 = empty ? 1 : hi[1];
    f.span = fmax(h0 - l0, h1 - l1) * 1.08 + 1e-9;
    f.scale = fmin((width - 2 * margin) / f.span, (height - top - margin) / f.span);
    f.cx = 0.5 * (l0 + h0);
    f.cy = 0.5 * (l1 + h1);
    f.px0 = width / 2.0;
    f.py0 = top + (height - top - margin) / 2.0;
    return f;
}

static double frame_x(const frame *f, double x)
{
    return f->px0 + (x - f->cx) * f->scale;
}

static double frame_y(const frame *f, double y)
{
    return f->py0 - (y - f->cy) * f->scale;
}

/* White canvas with the frame's square outlined (left as the current path). */
static cairo_t *canvas_new(cairo_format_t format, int width, int height, const frame *f,
                           cairo_surface_t **surf)
{
    *surf = cairo_image_surface_create(format, width, height);
    cairo_t *cr = cairo_create(*surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    cairo_set_line_width(cr, 1);
    double side = f->span * f->scale;
    cairo_rectangle(cr, f->px0 - side / 2, f->py0 - side / 2, side, side);
    return cr;
}

static void draw_points(cairo_t *cr, const frame *f, const plot_series *series,
                        size_t n_series, double radius)
{
    for (size_t s = 0; s < n_series; s++) {
        cairo_set_source_rgba(cr, series[s].r, series[s].g, series[s].b, series[s].a);
        for (size_t i = 0; i < series[s].n; i++) {
            double x = series[s].xy[i * 2], y = series[s].xy[i * 2 + 1];
            if (!isfinite(x) || !isfinite(y))
                continue;
            cairo_arc(cr, frame_x(f, x), frame_y(f, y), radius, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
}

/* A dot and the label of every labelled series, one per line from (x, y). */
static void draw_legend(cairo_t *cr, const plot_series *series, size_t n_series, double x,
                        double y, double font, double step)
{
    cairo_set_font_size(cr, font);
    for (size_t s = 0; s < n_series; s++) {
        if (!series[s].label)
            continue;
        cairo_set_source_rgba(cr, series[s].r, series[s].g, series[s].b, 1.0);
        cairo_arc(cr, x, y, 5, 0, 2 * M_PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, x + 10, y + 4);
        cairo_show_text(cr, series[s].label);
        y += step;
    }
}

static int plot_finish(cairo_t *cr, cairo_surface_t *surf, const char *path, char *err,
                       size_t err_len)
{
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

/* ---- axes, ticks, panels ------------------------------------------------- */

/* About max_ticks round tick values (1, 2 or 5 times a power of ten) in
 * [lo, hi]: the step and the first tick. */
static void nice_ticks(double lo, double hi, int max_ticks, double *step, double *first)
{
    double raw = (hi - lo) / (max_ticks > 0 ? max_ticks : 1);
    if (!(raw > 0) || !isfinite(raw))
        raw = 1;
    double mag = pow(10, floor(log10(raw))), f = raw / mag;
    *step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    *first = ceil(lo / *step - 1e-9) * *step;
}

/* A tick value as text, without float dust ("0.30000000000000004") or -0. */
static void tick_text(char buf[32], double v, double step)
{
    v = round(v / step) * step;
    if (fabs(v) < step * 1e-6)
        v = 0;
    snprintf(buf, 32, "%.6g", v);
}

/* A panel: its pixel rectangle and the data ranges it shows. */
typedef struct {
    double x, y, w, h;     /* pixels: left, top, width, height */
    double xlo, xhi, ylo, yhi;
} panel;

static double panel_px(const panel *p, double v)
{
    return p->x + (v - p->xlo) / (p->xhi - p->xlo) * p->w;
}

static double panel_py(const panel *p, double v)
{
    return p->y + p->h - (v - p->ylo) / (p->yhi - p->ylo) * p->h;
}

/* [lo, hi] of the finite values of column c of the sets, padded by 5 %;
 * [-1, 1] when there are none, ±0.5 around a constant. */
static void column_range(const plot_set *sets, size_t n_sets, size_t c, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            double v = sets[s].x[i * sets[s].dim + c];
            if (isfinite(v))
                l = fmin(l, v), h = fmax(h, v);
        }
    if (!(h >= l))
        l = -1, h = 1;
    if (h - l < 1e-12 * fmax(1.0, fabs(l)))
        l -= 0.5, h += 0.5;
    double pad = 0.05 * (h - l);
    *lo = l - pad;
    *hi = h + pad;
}

/* The frame of a panel, its ticks (x, y or both) with their labels when
 * asked (label_x, label_y), and light grid lines at the ticks. */
static void draw_axes(cairo_t *cr, const panel *p, int ticks_x, int ticks_y, int label_x,
                      int label_y, double font)
{
    cairo_set_font_size(cr, font);
    cairo_set_line_width(cr, 1);
    char buf[32];
    double step, v;
    if (ticks_x) {
        nice_ticks(p->xlo, p->xhi, p->w > 250 ? 6 : 4, &step, &v);
        for (; v <= p->xhi + 1e-9 * step; v += step) {
            double px = round(panel_px(p, v)) + 0.5;
            cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
            cairo_move_to(cr, px, p->y);
            cairo_line_to(cr, px, p->y + p->h);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
            cairo_move_to(cr, px, p->y + p->h);
            cairo_line_to(cr, px, p->y + p->h + 4);
            cairo_stroke(cr);
            if (label_x) {
                cairo_text_extents_t ext;
                tick_text(buf, v, step);
                cairo_text_extents(cr, buf, &ext);
                cairo_move_to(cr, px - ext.x_advance / 2, p->y + p->h + 6 + font);
                cairo_show_text(cr, buf);
            }
        }
    }
    if (ticks_y) {
        nice_ticks(p->ylo, p->yhi, p->h > 250 ? 6 : 4, &step, &v);
        for (; v <= p->yhi + 1e-9 * step; v += step) {
            double py = round(panel_py(p, v)) + 0.5;
            cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
            cairo_move_to(cr, p->x, py);
            cairo_line_to(cr, p->x + p->w, py);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
            cairo_move_to(cr, p->x - 4, py);
            cairo_line_to(cr, p->x, py);
            cairo_stroke(cr);
            if (label_y) {
                cairo_text_extents_t ext;
                tick_text(buf, v, step);
                cairo_text_extents(cr, buf, &ext);
                cairo_move_to(cr, p->x - 6 - ext.x_advance, py + font * 0.35);
                cairo_show_text(cr, buf);
            }
        }
    }
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    cairo_rectangle(cr, p->x + 0.5, p->y + 0.5, p->w - 1, p->h - 1);
    cairo_stroke(cr);
}

/* Column cy against column cx of every set, clipped to the panel. */
static void draw_panel_points(cairo_t *cr, const panel *p, const plot_set *sets, size_t n_sets,
                              size_t cx, size_t cy, double radius)
{
    cairo_save(cr);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
    for (size_t s = 0; s < n_sets; s++) {
        cairo_set_source_rgba(cr, sets[s].r, sets[s].g, sets[s].b, sets[s].a);
        for (size_t i = 0; i < sets[s].n; i++) {
            double x = sets[s].x[i * sets[s].dim + cx], y = sets[s].x[i * sets[s].dim + cy];
            if (!isfinite(x) || !isfinite(y))
                continue;
            cairo_arc(cr, panel_px(p, x), panel_py(p, y), radius, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    cairo_restore(cr);
}

/* Histograms of column c of every set (each a density, on one scale),
 * over the panel's x range. */
static void draw_panel_histograms(cairo_t *cr, const panel *p, const plot_set *sets,
                                  size_t n_sets, size_t c)
{
    enum { BINS = 30 };
    double dens[PLOT_MAX_SETS][BINS] = {{0}}, top = 0;
    const double bw = (p->xhi - p->xlo) / BINS;
    for (size_t s = 0; s < n_sets && s < PLOT_MAX_SETS; s++) {
        size_t used = 0;
        for (size_t i = 0; i < sets[s].n; i++) {
            double v = sets[s].x[i * sets[s].dim + c];
            if (!isfinite(v))
                continue;
            long b = (long)floor((v - p->xlo) / bw);
            b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
            dens[s][b] += 1;
            used++;
        }
        for (int b = 0; b < BINS && used; b++) {
            dens[s][b] /= (double)used;
            top = fmax(top, dens[s][b]);
        }
    }
    if (!(top > 0))
        return;
    for (size_t s = 0; s < n_sets && s < PLOT_MAX_SETS; s++) {
        cairo_move_to(cr, p->x, p->y + p->h);
        for (int b = 0; b < BINS; b++) {
            double y = p->y + p->h - dens[s][b] / top * p->h * 0.85;
            cairo_line_to(cr, p->x + b * p->w / BINS, y);
            cairo_line_to(cr, p->x + (b + 1) * p->w / BINS, y);
        }
        cairo_line_to(cr, p->x + p->w, p->y + p->h);
        cairo_close_path(cr);
        cairo_set_source_rgba(cr, sets[s].r, sets[s].g, sets[s].b, 0.25);
        cairo_fill_preserve(cr);
        cairo_set_source_rgba(cr, sets[s].r, sets[s].g, sets[s].b, 0.9);
        cairo_set_line_width(cr, 1.2);
        cairo_stroke(cr);
    }
}

/* The legend in the top right corner inside the panel, on a white box. */
static void draw_legend_in(cairo_t *cr, const panel *p, const plot_set *sets, size_t n_sets,
                           double font)
{
    double wmax = 0;
    size_t rows = 0;
    cairo_set_font_size(cr, font);
    for (size_t s = 0; s < n_sets; s++) {
        if (!sets[s].label)
            continue;
        cairo_text_extents_t ext;
        cairo_text_extents(cr, sets[s].label, &ext);
        wmax = fmax(wmax, ext.x_advance);
        rows++;
    }
    if (!rows)
        return;
    const double step = font * 1.5, pad = 6;
    const double bw = fmin(wmax + 20 + 2 * pad, p->w - 8), bh = rows * step + pad;
    const double bx = p->x + p->w - bw - 6, by = p->y + 6;
    cairo_save(cr);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke_preserve(cr);
    cairo_clip(cr);
    double y = by + pad + step / 2;
    for (size_t s = 0; s < n_sets; s++) {
        if (!sets[s].label)
            continue;
        cairo_set_source_rgba(cr, sets[s].r, sets[s].g, sets[s].b, 1.0);
        cairo_arc(cr, bx + pad + 5, y, 4.5, 0, 2 * M_PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, bx + pad + 16, y + font * 0.35);
        cairo_show_text(cr, sets[s].label);
        y += step;
    }
    cairo_restore(cr);
}

static void text_centred(cairo_t *cr, double x, double y, const char *t)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, t, &ext);
    cairo_move_to(cr, x - ext.x_advance / 2, y);
    cairo_show_text(cr, t);
}

static void text_vertical(cairo_t *cr, double x, double y, const char *t)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, t, &ext);
    cairo_save(cr);
    cairo_move_to(cr, x, y + ext.x_advance / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, t);
    cairo_restore(cr);
}

/* A title band only when there is a title. */
static double title_band(const char *title)
{
    return title && *title ? 36 : 0;
}

static void draw_title(cairo_t *cr, double x, const char *title)
{
    if (!title || !*title)
        return;
    cairo_set_font_size(cr, 15);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, x, 25);
    cairo_show_text(cr, title);
}

/* names[c], or "x<c>". */
static const char *column_label(const char *const *names, size_t c, char buf[32])
{
    if (names && names[c])
        return names[c];
    snprintf(buf, 32, "x%zu", c);
    return buf;
}

static int bad_plot(char *err, size_t err_len, const char *msg)
{
    if (err)
        snprintf(err, err_len, "%s", msg);
    return -1;
}

int plot_columns_png(const char *path, const plot_set *sets, size_t n_sets, const size_t *cols,
                     size_t k, const char *const *names, const char *title, int width,
                     int height, char *err, size_t err_len)
{
    if (!path || !sets || !cols || n_sets == 0)
        return bad_plot(err, err_len, "plot_columns_png: NULL argument or no point set");
    if (n_sets > PLOT_MAX_SETS) {
        if (err)
            snprintf(err, err_len, "plot_columns_png: at most %d point sets", PLOT_MAX_SETS);
        return -1;
    }
    if (k < 2 || k > PLOT_MAX_COLUMNS) {
        if (err)
            snprintf(err, err_len, "plot_columns_png: 2 to %d columns (got %zu)",
                     PLOT_MAX_COLUMNS, k);
        return -1;
    }
    if (width < 100 || height < 100 || width > 20000 || height > 20000)
        return bad_plot(err, err_len, "plot_columns_png: the image must be 100 to 20000 pixels");
    for (size_t s = 0; s < n_sets; s++) {
        if (!sets[s].x && sets[s].n)
            return bad_plot(err, err_len, "plot_columns_png: a point set without points");
        for (size_t j = 0; j < k; j++)
            if (cols[j] >= sets[s].dim) {
                if (err)
                    snprintf(err, err_len,
                             "column %zu does not exist: %s has %zu column%s (numbered from 0)",
                             cols[j], sets[s].label ? sets[s].label : "a point set",
                             sets[s].dim, sets[s].dim == 1 ? "" : "s");
                return -1;
            }
    }
    double lo[PLOT_MAX_COLUMNS], hi[PLOT_MAX_COLUMNS];
    for (size_t j = 0; j < k; j++)
        column_range(sets, n_sets, cols[j], &lo[j], &hi[j]);
    const double top = title_band(title) + 10, left = 62, bottom = 48, right = 14;
    const double gap = k > 2 ? 8 : 0;
    const double pw = (width - left - right - gap * (double)(k > 2 ? k - 1 : 0)) /
                      (double)(k > 2 ? k : 1);
    const double ph = (height - top - bottom - gap * (double)(k > 2 ? k - 1 : 0)) /
                      (double)(k > 2 ? k : 1);
    if (!(pw > 20 && ph > 20))
        return bad_plot(err, err_len, "plot_columns_png: the image is too small for the panels");
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    char b1[32], b2[32];
    if (k == 2) {
        panel p = {left, top, pw, ph, lo[0], hi[0], lo[1], hi[1]};
        /* Columns on comparable scales share one scale (a circle stays
         * round); others get one each. */
        const double sx = hi[0] - lo[0], sy = hi[1] - lo[1];
        if (fmax(sx, sy) <= PLOT_EQUAL_AXES_RATIO * fmin(sx, sy)) {
            double upp = fmax(sx / pw, sy / ph), cx = (lo[0] + hi[0]) / 2,
                   cy = (lo[1] + hi[1]) / 2;
            p.xlo = cx - upp * pw / 2, p.xhi = cx + upp * pw / 2;
            p.ylo = cy - upp * ph / 2, p.yhi = cy + upp * ph / 2;
        }
        draw_axes(cr, &p, 1, 1, 1, 1, 11);
        draw_panel_points(cr, &p, sets, n_sets, cols[0], cols[1], 1.6);
        draw_legend_in(cr, &p, sets, n_sets, 12);
        cairo_set_font_size(cr, 13);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_centred(cr, left + pw / 2, height - 10, column_label(names, cols[0], b1));
        text_vertical(cr, 16, top + ph / 2, column_label(names, cols[1], b2));
    } else {
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++) {
                panel p = {left + (double)j * (pw + gap), top + (double)i * (ph + gap), pw, ph,
                           lo[j], hi[j], lo[i], hi[i]};
                const int diag = i == j;
                draw_axes(cr, &p, 1, !diag, i == k - 1, j == 0 && !diag, 10);
                if (diag) {
                    draw_panel_histograms(cr, &p, sets, n_sets, cols[i]);
                    cairo_set_font_size(cr, 12);
                    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
                    cairo_move_to(cr, p.x + 6, p.y + 16);
                    cairo_show_text(cr, column_label(names, cols[i], b1));
                } else {
                    draw_panel_points(cr, &p, sets, n_sets, cols[j], cols[i], 1.0);
                }
                if (i == 0 && j == k - 1)
                    draw_legend_in(cr, &p, sets, n_sets, 11);
            }
        cairo_set_font_size(cr, 12);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        for (size_t j = 0; j < k; j++)
            text_centred(cr, left + (double)j * (pw + gap) + pw / 2, height - 10,
                         column_label(names, cols[j], b1));
        for (size_t i = 1; i < k; i++)
            text_vertical(cr, 16, top + (double)i * (ph + gap) + ph / 2,
                          column_label(names, cols[i], b1));
    }
    draw_title(cr, left, title);
    return plot_finish(cr, surf, path, err, err_len);
}

int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len)
{
    if (!path || (n_series && !series) || n_series > PLOT_MAX_SETS)
        return bad_plot(err, err_len, "plot_scatter_png: bad arguments");
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    plot_set sets[PLOT_MAX_SETS];
    for (size_t s = 0; s < n_series; s++) {
        bounds_add(lo, hi, series[s].xy, series[s].n);
        sets[s] = (plot_set){series[s].xy, series[s].n, 2, series[s].r, series[s].g,
                             series[s].b, series[s].a, series[s].label};
    }
    const double top = title_band(title) + 10, left = 52, bottom = 30, right = 14;
    const double pw = width - left - right, ph = height - top - bottom;
    if (!(pw > 20 && ph > 20))
        return bad_plot(err, err_len, "plot_scatter_png: the image is too small");
    /* Equal axes framing all finite points. */
    frame f = frame_fit(lo, hi, (int)pw, (int)ph, 0, 0);
    const double upp = 1 / f.scale;
    panel p = {left, top, pw, ph, f.cx - upp * pw / 2, f.cx + upp * pw / 2,
               f.cy - upp * ph / 2, f.cy + upp * ph / 2};
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    draw_axes(cr, &p, 1, 1, 1, 1, 11);
    draw_panel_points(cr, &p, sets, n_series, 0, 1, 1.6);
    draw_legend_in(cr, &p, sets, n_series, 12);
    draw_title(cr, left, title);
    return plot_finish(cr, surf, path, err, err_len);
}

static void plot_title(cairo_t *cr, double x, const char *title)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 15);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, x, 28);
    cairo_show_text(cr, title ? title : "");
}

int plot_lines_png(const char *path, const double *x, size_t n_x, const plot_line *lines,
                   size_t n_lines, const char *title, const char *x_label,
                   const char *y_label, int log_x, int width, int height, char *err,
                   size_t err_len)
{
    if (!path || !x || n_x == 0 || (n_lines && !lines)) {
        if (err)
            snprintf(err, err_len, "plot_lines_png: bad arguments");
        return -1;
    }
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < n_x; i++) {
        double v = log_x ? log10(x[i]) : x[i];
        if (isfinite(v)) {
            xlo = fmin(xlo, v);
            xhi = fmax(xhi, v);
        }
    }
    for (size_t l = 0; l < n_lines; l++)
        for (size_t i = 0; i < n_x; i++)
            if (isfinite(lines[l].y[i])) {
                ylo = fmin(ylo, lines[l].y[i]);
                yhi = fmax(yhi, lines[l].y[i]);
            }
    if (!(xhi >= xlo)) {
        if (err)
            snprintf(err, err_len, "plot_lines_png: no finite x values");
        return -1;
    }
    if (!(yhi >= ylo))
        ylo = 0, yhi = 1;
    if (xhi - xlo < 1e-12)
        xlo -= 0.5, xhi += 0.5;
    if (yhi - ylo < 1e-12)
        ylo -= 0.5, yhi += 0.5;
    double ypad = 0.06 * (yhi - ylo), xpad = 0.04 * (xhi - xlo);
    ylo -= ypad, yhi += ypad, xlo -= xpad, xhi += xpad;
    const double left = 70, right = 30, top = 50, bottom = 55;
    double pw = width - left - right, ph = height - top - bottom;
#define PX(v) (left + ((v) - xlo) / (xhi - xlo) * pw)
#define PY(v) (top + ph - ((v) - ylo) / (yhi - ylo) * ph)

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    /* y grid and ticks: 5 intervals */
    for (int t = 0; t <= 5; t++) {
        double v = ylo + ypad + (yhi - ylo - 2 * ypad) * t / 5.0;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, left, PY(v));
        cairo_line_to(cr, left + pw, PY(v));
        cairo_stroke(cr);
        char buf[32];
        snprintf(buf, sizeof buf, "%.3g", v);
        cairo_text_extents_t ext;
        cairo_text_extents(cr, buf, &ext);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, left - 6 - ext.x_advance, PY(v) + 4);
        cairo_show_text(cr, buf);
    }
    /* x ticks at the data x values */
    for (size_t i = 0; i < n_x; i++) {
        double v = log_x ? log10(x[i]) : x[i];
        if (!isfinite(v))
            continue;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, PX(v), top);
        cairo_line_to(cr, PX(v), top + ph);
        cairo_stroke(cr);
        char buf[32];
        snprintf(buf, sizeof buf, "%g", x[i]);
        cairo_text_extents_t ext;
        cairo_text_extents(cr, buf, &ext);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, PX(v) - ext.width / 2, top + ph + 16);
        cairo_show_text(cr, buf);
    }
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (x_label) {
        cairo_text_extents_t ext;
        cairo_text_extents(cr, x_label, &ext);
        cairo_move_to(cr, left + pw / 2 - ext.width / 2, height - 12);
        cairo_show_text(cr, x_label);
    }
    if (y_label) {
        cairo_text_extents_t ext;
        cairo_text_extents(cr, y_label, &ext);
        cairo_save(cr);
        cairo_move_to(cr, 24, top + ph / 2 + ext.width / 2);
        cairo_rotate(cr, -M_PI / 2);
        cairo_show_text(cr, y_label);
        cairo_restore(cr);
    }
    for (size_t l = 0; l < n_lines; l++) {
        cairo_set_source_rgb(cr, lines[l].r, lines[l].g, lines[l].b);
        cairo_set_line_width(cr, 2);
        int open = 0;
        for (size_t i = 0; i < n_x; i++) {
            double xv = log_x ? log10(x[i]) : x[i], yv = lines[l].y[i];
            if (!isfinite(xv) || !isfinite(yv)) {
                open = 0;
                continue;
            }
            if (open)
                cairo_line_to(cr, PX(xv), PY(yv));
            else
                cairo_move_to(cr, PX(xv), PY(yv));
            open = 1;
        }
        cairo_stroke(cr);
        for (size_t i = 0; i < n_x; i++) {
            double xv = log_x ? log10(x[i]) : x[i], yv = lines[l].y[i];
            if (!isfinite(xv) || !isfinite(yv))
                continue;
            cairo_arc(cr, PX(xv), PY(yv), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    /* legend, bottom right inside the plot */
    cairo_set_font_size(cr, 12);
    double ly = top + ph - 12 - 18.0 * (double)(n_lines ? n_lines - 1 : 0);
    for (size_t l = 0; l < n_lines; l++) {
        if (!lines[l].label)
            continue;
        cairo_set_source_rgb(cr, lines[l].r, lines[l].g, lines[l].b);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, left + pw - 150, ly - 4);
        cairo_line_to(cr, left + pw - 128, ly - 4);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, left + pw - 122, ly);
        cairo_show_text(cr, lines[l].label);
        ly += 18;
    }
#undef PX
#undef PY
    plot_title(cr, left, title);
    return plot_finish(cr, surf, path, err, err_len);
}

int plot_field_png(const char *path, const plot_series *series, size_t n_series,
                   const plot_arrows *arrows, const plot_paths *paths, const char *title,
                   int width, int height, char *err, size_t err_len)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (size_t s = 0; s < n_series; s++)
        bounds_add(lo, hi, series[s].xy, series[s].n);
    if (arrows)
        bounds_add(lo, hi, arrows->xy, arrows->n);
    const double margin = 30, top = 45;
    frame f = frame_fit(lo, hi, width, height, margin, top);
#define PX(v) frame_x(&f, (v))
#define PY(v) frame_y(&f, (v))

    cairo_surface_t *surf;
    cairo_t *cr = canvas_new(CAIRO_FORMAT_RGB24, width, height, &f, &surf);
    cairo_stroke_preserve(cr);
    cairo_clip(cr);
    draw_points(cr, &f, series, n_series, 1.5);
    if (arrows) {
        cairo_set_source_rgba(cr, arrows->r, arrows->g, arrows->b, arrows->a);
        cairo_set_line_width(cr, 1.2);
        for (size_t i = 0; i < arrows->n; i++) {
            double x0 = PX(arrows->xy[2 * i]), y0 = PY(arrows->xy[2 * i + 1]);
            double x1 = PX(arrows->xy[2 * i] + arrows->dxy[2 * i]);
            double y1 = PY(arrows->xy[2 * i + 1] + arrows->dxy[2 * i + 1]);
            double len = hypot(x1 - x0, y1 - y0);
            if (!isfinite(len))
                continue;
            cairo_move_to(cr, x0, y0);
            cairo_line_to(cr, x1, y1);
            cairo_stroke(cr);
            if (len < 1)
                continue;
            double ux = (x1 - x0) / len, uy = (y1 - y0) / len, h = fmin(5.0, 0.45 * len);
            cairo_move_to(cr, x1, y1);
            cairo_line_to(cr, x1 - h * ux - 0.5 * h * uy, y1 - h * uy + 0.5 * h * ux);
            cairo_line_to(cr, x1 - h * ux + 0.5 * h * uy, y1 - h * uy - 0.5 * h * ux);
            cairo_close_path(cr);
            cairo_fill(cr);
        }
    }
    if (paths) {
        cairo_set_line_width(cr, 1.4);
        for (size_t p = 0; p < paths->n_paths; p++) {
            const float *q = paths->xy + p * paths->n_pts * 2;
            if (paths->r < 0) { /* a colour per path from a small palette */
                static const double pal[8][3] = {{0.84, 0.15, 0.16}, {0.17, 0.63, 0.17},
                                                 {0.58, 0.40, 0.74}, {1.00, 0.50, 0.05},
                                                 {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76},
                                                 {0.09, 0.75, 0.81}, {0.74, 0.74, 0.13}};
                cairo_set_source_rgba(cr, pal[p % 8][0], pal[p % 8][1], pal[p % 8][2], paths->a);
            } else {
                cairo_set_source_rgba(cr, paths->r, paths->g, paths->b, paths->a);
            }
            int open = 0;
            for (size_t j = 0; j < paths->n_pts; j++) {
                if (!isfinite(q[2 * j]) || !isfinite(q[2 * j + 1])) {
                    open = 0;
                    continue;
                }
                if (open)
                    cairo_line_to(cr, PX(q[2 * j]), PY(q[2 * j + 1]));
                else
                    cairo_move_to(cr, PX(q[2 * j]), PY(q[2 * j + 1]));
                open = 1;
            }
            cairo_stroke(cr);
            if (paths->n_pts == 0)
                continue;
            cairo_new_path(cr);
            cairo_arc(cr, PX(q[0]), PY(q[1]), 3, 0, 2 * M_PI);
            cairo_stroke(cr);
            size_t e = paths->n_pts - 1;
            cairo_arc(cr, PX(q[2 * e]), PY(q[2 * e + 1]), 3, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
#undef PX
#undef PY
    cairo_reset_clip(cr);
    plot_title(cr, margin, title);
    draw_legend(cr, series, n_series, width - 130, top + 10, 12, 18);
    return plot_finish(cr, surf, path, err, err_len);
}

int plot_images_png(const char *path, const plot_image_panel *panels, size_t n_panels,
                    const char *title, int cell, char *err, size_t err_len)
{
    if (!path || !panels || n_panels == 0 || cell < 2) {
        if (err)
            snprintf(err, err_len, "plot_images_png: bad arguments");
        return -1;
    }
    const double pad = 12, top = 46, label_h = 22, gap = 2;
    int width = (int)pad, height = 0;
    for (size_t k = 0; k < n_panels; k++) {
        const plot_image_panel *q = &panels[k];
        width += (int)(q->cols * (q->w * cell + gap) + pad);
        int h = (int)(top + label_h + q->rows * (q->h * cell + gap) + pad);
        height = h > height ? h : height;
    }
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    plot_title(cr, pad, title);
    double x0 = pad;
    for (size_t k = 0; k < n_panels; k++) {
        const plot_image_panel *q = &panels[k];
        cairo_set_font_size(cr, 13);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, x0, top + 12);
        cairo_show_text(cr, q->label ? q->label : "");
        for (size_t i = 0; i < q->rows * q->cols && i < q->n; i++) {
            const double cx = x0 + (double)(i % q->cols) * (q->w * cell + gap);
            const double cy = top + label_h + (double)(i / q->cols) * (q->h * cell + gap);
            const float *im = q->pixels + i * q->w * q->h;
            for (size_t r = 0; r < q->h; r++)
                for (size_t c = 0; c < q->w; c++) {
                    double v = (im[r * q->w + c] - q->lo) / (q->hi - q->lo);
                    v = isfinite(v) ? (v < 0 ? 0 : v > 1 ? 1 : v) : 0;
                    cairo_set_source_rgb(cr, 1 - v, 1 - v, 1 - v); /* ink on paper */
                    cairo_rectangle(cr, cx + (double)c * cell, cy + (double)r * cell, cell, cell);
                    cairo_fill(cr);
                }
        }
        x0 += q->cols * (q->w * cell + gap) + pad;
    }
    return plot_finish(cr, surf, path, err, err_len);
}

#else

int plot_available(void)
{
    return 0;
}

int plot_columns_png(const char *path, const plot_set *sets, size_t n_sets, const size_t *cols,
                     size_t k, const char *const *names, const char *title, int width,
                     int height, char *err, size_t err_len)
{
    (void)path; (void)sets; (void)n_sets; (void)cols; (void)k; (void)names; (void)title;
    (void)width; (void)height;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

int plot_scatter_png(const char *path, const plot_series *series, size_t n_series,
                     const char *title, int width, int height, char *err, size_t err_len)
{
    (void)path; (void)series; (void)n_series; (void)title; (void)width; (void)height;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

int plot_lines_png(const char *path, const double *x, size_t n_x, const plot_line *lines,
                   size_t n_lines, const char *title, const char *x_label,
                   const char *y_label, int log_x, int width, int height, char *err,
                   size_t err_len)
{
    (void)path; (void)x; (void)n_x; (void)lines; (void)n_lines; (void)title;
    (void)x_label; (void)y_label; (void)log_x; (void)width; (void)height;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

int plot_field_png(const char *path, const plot_series *series, size_t n_series,
                   const plot_arrows *arrows, const plot_paths *paths, const char *title,
                   int width, int height, char *err, size_t err_len)
{
    (void)path; (void)series; (void)n_series; (void)arrows; (void)paths; (void)title;
    (void)width; (void)height;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

int plot_images_png(const char *path, const plot_image_panel *panels, size_t n_panels,
                    const char *title, int cell, char *err, size_t err_len)
{
    (void)path; (void)panels; (void)n_panels; (void)title; (void)cell;
    if (err)
        snprintf(err, err_len, "PNG output was not built (install libcairo2-dev and reconfigure)");
    return -1;
}

#endif
