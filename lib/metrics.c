/* Sample-quality metrics: coverage/precision at a radius, improved
 * precision/recall and density/coverage (nearest-neighbour queries through
 * knn.c: k-d tree or blocked brute force), energy distance, MMD, Fréchet
 * distance. Definitions are in scorematch/metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas-private.h"
#include "internal.h"
#include "kdtree-private.h"
#include "lapack-private.h"
#include "metrics-private.h"
#include "rng-private.h"
#include "scorematch/metrics.h"

/* ---- argument checks ---------------------------------------------------- */

static sm_status check_sets(const char *fn, const float *real, size_t n_real,
                            const float *gen, size_t n_gen, size_t dim)
{
    if (!real)
        return sm__error(SM_ERR_INVALID_ARG, "%s: real is NULL", fn);
    if (!gen)
        return sm__error(SM_ERR_INVALID_ARG, "%s: gen is NULL", fn);
    if (n_real == 0 || n_gen == 0 || dim == 0)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: n_real, n_gen and dim must be > 0 (got %zu, %zu, %zu)", fn,
                         n_real, n_gen, dim);
    size_t a, b;
    if (sm__mul_size(n_real, dim, &a) || sm__mul_size(a, sizeof(float), &b) ||
        sm__mul_size(n_gen, dim, &a) || sm__mul_size(a, sizeof(float), &b))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    size_t total = n_real * dim;
    size_t bad = sm__first_nonfinite(real, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: real point %zu has a non-finite value in column %zu", fn,
                         bad / dim, bad % dim);
    return SM_OK;
}

static sm_status check_radius(const char *fn, double radius)
{
    if (!isfinite(radius) || !(radius > 0.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: radius must be finite and > 0 (got %g)", fn,
                         radius);
    return SM_OK;
}

static size_t count_nonfinite_rows(const float *x, size_t n, size_t dim)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (size_t)!sm__row_finite(x + i * dim, dim);
    return c;
}

/* ---- coverage and precision at a fixed radius --------------------------- */

sm_status sm__metric_coverage_precision_with(sm__knn_method method, const char *fn,
                                             const float *real, size_t n_real,
                                             const float *gen, size_t n_gen, size_t dim,
                                             double radius, double *out_coverage,
                                             double *out_precision, size_t *out_nonfinite)
{
    sm_status st = check_sets(fn, real, n_real, gen, n_gen, dim);
    if (st || (st = check_radius(fn, radius)))
        return st;
    if (!out_coverage && !out_precision)
        return sm__error(SM_ERR_INVALID_ARG, "%s: no output given", fn);
    double r2 = radius * radius;
    /* The real set is indexed also for coverage alone: with the tree,
     * querying the real points in its (spatial) order keeps the generated
     * tree in cache, which more than pays for the build at large N. */
    sm__knn *rs, *gs;
    if ((st = sm__knn_pair_new(&rs, &gs, real, n_real, gen, n_gen, dim, method, 1,
                               out_coverage != NULL, fn)))
        return st;
    size_t covered = 0, precise = 0;
    if (out_coverage)
        st = sm__knn_count_within(gs, rs, r2, NULL, &covered, NULL);
    if (!st && out_precision)
        st = sm__knn_count_within(rs, gs, r2, NULL, &precise, NULL);
    if (!st) {
        if (out_coverage)
            *out_coverage = (double)covered / (double)n_real;
        if (out_precision)
            *out_precision = (double)precise / (double)n_gen;
        if (out_nonfinite)
            *out_nonfinite = n_gen - sm__knn_size(gs);
    }
    sm__knn_free(rs);
    sm__knn_free(gs);
    return st;
}

sm_status sm_metric_coverage(const float *real, size_t n_real, const float *gen,
                             size_t n_gen, size_t dim, double radius, double *out_coverage,
                             size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_coverage";
    if (!out_coverage)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_coverage is NULL", fn);
    return sm__metric_coverage_precision_with(SM__KNN_AUTO, fn, real, n_real, gen, n_gen, dim,
                                              radius, out_coverage, NULL, out_nonfinite);
}

sm_status sm_metric_precision(const float *real, size_t n_real, const float *gen,
                              size_t n_gen, size_t dim, double radius, double *out_precision,
                              size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_precision";
    if (!out_precision)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_precision is NULL", fn);
    return sm__metric_coverage_precision_with(SM__KNN_AUTO, fn, real, n_real, gen, n_gen, dim,
                                              radius, NULL, out_precision, out_nonfinite);
}

sm_status sm_metric_coverage_precision(const float *real, size_t n_real, const float *gen,
                                       size_t n_gen, size_t dim, double radius,
                                       double *out_coverage, double *out_precision,
                                       size_t *out_nonfinite)
{
    return sm__metric_coverage_precision_with(SM__KNN_AUTO, "sm_metric_coverage_precision",
                                              real, n_real, gen, n_gen, dim, radius,
                                              out_coverage, out_precision, out_nonfinite);
}

sm_status sm__metric_per_mode_coverage_with(sm__knn_method method, const float *real,
                                            const int32_t *labels, size_t n_real,
                                            const float *gen, size_t n_gen, size_t dim,
                                            double radius, double *out_per_mode,
                                            size_t n_modes, size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_per_mode_coverage";
    sm_status st = check_sets(fn, real, n_real, gen, n_gen, dim);
    if (st || (st = check_radius(fn, radius)))
        return st;
    if (!labels)
        return sm__error(SM_ERR_INVALID_ARG, "%s: labels is NULL", fn);
    if (!out_per_mode)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_per_mode is NULL", fn);
    if (n_modes == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n_modes must be > 0", fn);
    if (sm__array_too_big(n_modes, 2, sizeof(size_t)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n_modes = %zu is too large", fn, n_modes);
    for (size_t i = 0; i < n_real; i++)
        if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)n_modes)
            return sm__error(SM_ERR_INVALID_ARG,
                             "%s: label %zu is %ld, outside [0, n_modes = %zu)", fn, i,
                             (long)labels[i], n_modes);
    size_t *cnt = sm__calloc(n_modes, 2 * sizeof(size_t));
    unsigned char *hit = sm__calloc(n_real, 1);
    if (!cnt || !hit) {
        free(cnt);
        free(hit);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    sm__knn *rs = NULL, *gs = NULL;
    size_t covered_total;
    if ((st = sm__knn_pair_new(&rs, &gs, real, n_real, gen, n_gen, dim, method, 1, 1, fn)) ||
        (st = sm__knn_count_within(gs, rs, radius * radius, NULL, &covered_total, hit)))
        goto done;
    size_t *total = cnt, *covered = cnt + n_modes;
    for (size_t pos = 0; pos < n_real; pos++) {
        int32_t c = labels[sm__knn_index(rs, pos)];
        total[c]++;
        covered[c] += hit[pos];
    }
    for (size_t c = 0; c < n_modes; c++)
        out_per_mode[c] = total[c] ? (double)covered[c] / (double)total[c] : NAN;
    if (out_nonfinite)
        *out_nonfinite = n_gen - sm__knn_size(gs);
done:
    sm__knn_free(rs);
    sm__knn_free(gs);
    free(cnt);
    free(hit);
    return st;
}

sm_status sm_metric_per_mode_coverage(const float *real, const int32_t *labels, size_t n_real,
                                      const float *gen, size_t n_gen, size_t dim,
                                      double radius, double *out_per_mode, size_t n_modes,
                                      size_t *out_nonfinite)
{
    return sm__metric_per_mode_coverage_with(SM__KNN_AUTO, real, labels, n_real, gen, n_gen,
                                             dim, radius, out_per_mode, n_modes,
                                             out_nonfinite);
}

/* ---- improved precision/recall, density/coverage ------------------------ */

sm_status sm__metric_prdc_with(sm__knn_method method, const float *real, size_t n_real,
                               const float *gen, size_t n_gen, size_t dim, size_t k_pr,
                               size_t k_dc, double *out_precision, double *out_recall,
                               double *out_density, double *out_coverage,
                               size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_prdc";
    sm_status st = check_sets(fn, real, n_real, gen, n_gen, dim);
    if (st)
        return st;
    if (k_pr == 0)
        k_pr = SM_METRIC_K_PR_DEFAULT;
    if (k_dc == 0)
        k_dc = SM_METRIC_K_DC_DEFAULT;
    int want_pr = out_precision != NULL, want_dc = out_density || out_coverage;
    if (want_pr && n_real <= k_pr)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n_real (%zu) must exceed k_pr (%zu)", fn,
                         n_real, k_pr);
    if (want_dc && n_real <= k_dc)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n_real (%zu) must exceed k_dc (%zu)", fn,
                         n_real, k_dc);
    size_t nonfinite = count_nonfinite_rows(gen, n_gen, dim);
    size_t m_fin = n_gen - nonfinite;
    if (out_recall && m_fin <= k_pr) {
        if (n_gen <= k_pr)
            return sm__error(SM_ERR_INVALID_ARG, "%s: n_gen (%zu) must exceed k_pr (%zu)",
                             fn, n_gen, k_pr);
        return sm__error(SM_ERR_NONFINITE,
                         "%s: only %zu of %zu generated points are finite; recall with "
                         "k_pr = %zu needs at least %zu",
                         fn, m_fin, n_gen, k_pr, k_pr + 1);
    }
    size_t n_rad = 0;
    if (sm__mul_size(n_real, 2, &n_rad) || (n_rad += m_fin) < m_fin)
        return sm__error(SM_ERR_OVERFLOW, "%s: sizes overflow", fn);

    /* The real set is searched for its own radii and as the balls of
     * precision and density; the generated set for recall and coverage. */
    sm__knn *rs = NULL, *gs = NULL;
    double *rad = NULL; /* real k_pr radii | real k_dc radii | gen k_pr radii */
    double prec = 0, rec = 0, dens = 0, cov = 0;
    if ((st = sm__knn_pair_new(&rs, &gs, real, n_real, gen, n_gen, dim, method,
                               want_pr || want_dc, out_recall || out_coverage, fn)))
        return st;
    rad = sm__calloc(n_rad, sizeof(double));
    if (!rad) {
        st = sm__error(SM_ERR_NOMEM, "%s: out of memory for the radii", fn);
        goto done;
    }
    double *r_pr = rad, *r_dc = rad + n_real, *g_pr = rad + 2 * n_real;

    if (want_pr && want_dc)
        st = sm__knn_radii(rs, k_pr, r_pr, k_dc, r_dc);
    else if (want_pr)
        st = sm__knn_radii(rs, k_pr, r_pr, 0, NULL);
    else if (want_dc)
        st = sm__knn_radii(rs, k_dc, r_dc, 0, NULL);
    if (st)
        goto done;
    size_t c;
    if (want_pr) {
        /* A generated point is precise if it lies in some real k-NN ball (<=). */
        if ((st = sm__knn_count_in_balls(rs, r_pr, gs, 0, 1, &c)))
            goto done;
        prec = (double)c / (double)n_gen;
    }
    if (out_density) {
        /* Number of real k-NN balls (<) containing each generated point. */
        if ((st = sm__knn_count_in_balls(rs, r_dc, gs, 1, SIZE_MAX, &c)))
            goto done;
        dens = (double)c / ((double)k_dc * (double)n_gen);
    }
    if (out_coverage) {
        /* A real point is covered if its nearest generated point is inside
         * its own k-NN ball (<): the same as "some point within the radius". */
        if ((st = sm__knn_count_within(gs, rs, 0.0, r_dc, &c, NULL)))
            goto done;
        cov = (double)c / (double)n_real;
    }
    if (out_recall) {
        /* A real point is recalled if it lies in some generated k-NN ball (<=). */
        if ((st = sm__knn_radii(gs, k_pr, g_pr, 0, NULL)) ||
            (st = sm__knn_count_in_balls(gs, g_pr, rs, 0, 1, &c)))
            goto done;
        rec = (double)c / (double)n_real;
    }
    if (out_precision)
        *out_precision = prec;
    if (out_recall)
        *out_recall = rec;
    if (out_density)
        *out_density = dens;
    if (out_coverage)
        *out_coverage = cov;
    if (out_nonfinite)
        *out_nonfinite = nonfinite;
done:
    sm__knn_free(rs);
    sm__knn_free(gs);
    free(rad);
    return st;
}

sm_status sm_metric_prdc(const float *real, size_t n_real, const float *gen, size_t n_gen,
                         size_t dim, size_t k_pr, size_t k_dc, double *out_precision,
                         double *out_recall, double *out_density, double *out_coverage,
                         size_t *out_nonfinite)
{
    return sm__metric_prdc_with(SM__KNN_AUTO, real, n_real, gen, n_gen, dim, k_pr, k_dc,
                                out_precision, out_recall, out_density, out_coverage,
                                out_nonfinite);
}

/* ---- energy distance and MMD -------------------------------------------- */

/* The point sets the pairwise statistics run on: the real points and the
 * finite generated points, each subsampled to max_points when larger. */
typedef struct pair_sets {
    const float *x, *y;
    size_t nx, ny;
    float *own_x, *own_y;
    size_t nonfinite;
} pair_sets;

static void pair_sets_free(pair_sets *p)
{
    free(p->own_x);
    free(p->own_y);
}

/* Copies rows idx[0..m) of src into a new m × dim array. */
static float *gather(const float *src, const size_t *idx, size_t m, size_t dim)
{
    float *dst = sm__calloc(m, dim * sizeof(float));
    if (dst)
        for (size_t i = 0; i < m; i++)
            memcpy(dst + i * dim, src + idx[i] * dim, dim * sizeof(float));
    return dst;
}

/* Moves a uniform random m-subset of idx[0..n) to idx[0..m) (partial
 * Fisher–Yates). */
static void choose_subset(size_t *idx, size_t n, size_t m, sm_rng *rng)
{
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)sm__rng_below(rng, (uint64_t)(n - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

static sm_status make_pair_sets(pair_sets *p, const char *fn, const float *real,
                                size_t n_real, const float *gen, size_t n_gen, size_t dim,
                                size_t max_points, sm_rng *rng)
{
    memset(p, 0, sizeof *p);
    sm_status st = check_sets(fn, real, n_real, gen, n_gen, dim);
    if (st)
        return st;
    p->nonfinite = count_nonfinite_rows(gen, n_gen, dim);
    size_t m_fin = n_gen - p->nonfinite;
    if (m_fin == 0)
        return sm__error(SM_ERR_NONFINITE, "%s: none of the %zu generated points is finite",
                         fn, n_gen);
    int sub_x = max_points && n_real > max_points;
    int sub_y = max_points && m_fin > max_points;
    if ((sub_x || sub_y) && !rng)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: rng is NULL but a set exceeds max_points (%zu) and must be "
                         "subsampled",
                         fn, max_points);
    size_t big = n_real > n_gen ? n_real : n_gen;
    size_t *idx = NULL;
    if (sub_x || sub_y || p->nonfinite) {
        idx = sm__calloc(big, sizeof(size_t));
        if (!idx)
            return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    p->x = real;
    p->nx = n_real;
    if (sub_x) {
        for (size_t i = 0; i < n_real; i++)
            idx[i] = i;
        choose_subset(idx, n_real, max_points, rng);
        p->x = p->own_x = gather(real, idx, max_points, dim);
        p->nx = max_points;
    }
    p->y = gen;
    p->ny = n_gen;
    if (!p->own_x && sub_x)
        goto nomem;
    if (sub_y || p->nonfinite) {
        size_t k = 0;
        for (size_t j = 0; j < n_gen; j++)
            if (sm__row_finite(gen + j * dim, dim))
                idx[k++] = j;
        p->ny = m_fin;
        if (sub_y) {
            choose_subset(idx, m_fin, max_points, rng);
            p->ny = max_points;
        }
        p->y = p->own_y = gather(gen, idx, p->ny, dim);
        if (!p->own_y)
            goto nomem;
    }
    free(idx);
    return SM_OK;
nomem:
    free(idx);
    pair_sets_free(p);
    return sm__error(SM_ERR_NOMEM, "%s: out of memory for the subsample", fn);
}

/* Σ_{i<j} f(‖a_i − a_j‖²) and Σ_{i,j} f(‖a_i − b_j‖²), row sums first. */
typedef double (*pair_fn)(double d2, double param);

static double sum_within(const float *a, size_t n, size_t dim, pair_fn f, double param)
{
    double total = 0.0;
    for (size_t i = 1; i < n; i++) {
        const float *ai = a + i * dim;
        double row = 0.0;
        for (size_t j = 0; j < i; j++)
            row += f(sm__sqdist(ai, a + j * dim, dim), param);
        total += row;
    }
    return total;
}

static double sum_between(const float *a, size_t n, const float *b, size_t m, size_t dim,
                          pair_fn f, double param)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *ai = a + i * dim;
        double row = 0.0;
        for (size_t j = 0; j < m; j++)
            row += f(sm__sqdist(ai, b + j * dim, dim), param);
        total += row;
    }
    return total;
}

static double f_dist(double d2, double unused)
{
    (void)unused;
    return sqrt(d2);
}

static double f_rbf(double d2, double gamma)
{
    return exp(-gamma * d2);
}

sm_status sm_metric_energy_distance(const float *real, size_t n_real, const float *gen,
                                    size_t n_gen, size_t dim, size_t max_points, sm_rng *rng,
                                    double *out_energy, size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_energy_distance";
    if (!out_energy)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_energy is NULL", fn);
    pair_sets p;
    sm_status st = make_pair_sets(&p, fn, real, n_real, gen, n_gen, dim, max_points, rng);
    if (st)
        return st;
    double nx = (double)p.nx, ny = (double)p.ny;
    double xy = sum_between(p.x, p.nx, p.y, p.ny, dim, f_dist, 0.0) / (nx * ny);
    double xx = 2.0 * sum_within(p.x, p.nx, dim, f_dist, 0.0) / (nx * nx);
    double yy = 2.0 * sum_within(p.y, p.ny, dim, f_dist, 0.0) / (ny * ny);
    double e = 2.0 * xy - xx - yy;
    *out_energy = e > 0.0 ? e : 0.0;
    if (out_nonfinite)
        *out_nonfinite = p.nonfinite;
    pair_sets_free(&p);
    return SM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of ‖z_a − z_b‖ over pairs a < b of at most 1024 points of the
 * pooled set taken at even strides; 1 if that median is 0 or on failure to
 * allocate (reported as NOMEM). */
static sm_status median_bandwidth(const pair_sets *p, size_t dim, double *h, const char *fn)
{
    enum { MAX_POOL = 1024 };
    size_t pool = p->nx + p->ny;
    size_t s = pool < MAX_POOL ? pool : MAX_POOL;
    size_t npairs = s * (s - 1) / 2;
    double *d = sm__calloc(npairs, sizeof(double));
    const float **pt = sm__calloc(s, sizeof(const float *));
    if (!d || !pt) {
        free(d);
        free(pt);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for the median heuristic", fn);
    }
    for (size_t k = 0; k < s; k++) {
        /* floor(k·pool/s) without overflow: distinct indices, first is 0. */
        size_t q = k * (pool / s) + k * (pool % s) / s;
        pt[k] = q < p->nx ? p->x + q * dim : p->y + (q - p->nx) * dim;
    }
    size_t c = 0;
    for (size_t a = 1; a < s; a++)
        for (size_t b = 0; b < a; b++)
            d[c++] = sqrt(sm__sqdist(pt[a], pt[b], dim));
    qsort(d, npairs, sizeof(double), cmp_double);
    double med = npairs % 2 ? d[npairs / 2] : 0.5 * (d[npairs / 2 - 1] + d[npairs / 2]);
    *h = med > 0.0 && isfinite(med) ? med : 1.0;
    free(d);
    free(pt);
    return SM_OK;
}

sm_status sm_metric_mmd_rbf(const float *real, size_t n_real, const float *gen, size_t n_gen,
                            size_t dim, double bandwidth, size_t max_points, sm_rng *rng,
                            double *out_mmd2, double *out_bandwidth, size_t *out_nonfinite)
{
    static const char fn[] = "sm_metric_mmd_rbf";
    if (!out_mmd2)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_mmd2 is NULL", fn);
    if (!isfinite(bandwidth))
        return sm__error(SM_ERR_INVALID_ARG, "%s: bandwidth must be finite (got %g)", fn,
                         bandwidth);
    pair_sets p;
    sm_status st = make_pair_sets(&p, fn, real, n_real, gen, n_gen, dim, max_points, rng);
    if (st)
        return st;
    double h = bandwidth;
    if (!(h > 0.0) && (st = median_bandwidth(&p, dim, &h, fn))) {
        pair_sets_free(&p);
        return st;
    }
    double gamma = 1.0 / (2.0 * h * h);
    if (!isfinite(gamma)) {
        pair_sets_free(&p);
        return sm__error(SM_ERR_INVALID_ARG, "%s: bandwidth %g is too small", fn, h);
    }
    double nx = (double)p.nx, ny = (double)p.ny;
    double kxy = sum_between(p.x, p.nx, p.y, p.ny, dim, f_rbf, gamma) / (nx * ny);
    double kxx = (nx + 2.0 * sum_within(p.x, p.nx, dim, f_rbf, gamma)) / (nx * nx);
    double kyy = (ny + 2.0 * sum_within(p.y, p.ny, dim, f_rbf, gamma)) / (ny * ny);
    double m = kxx + kyy - 2.0 * kxy;
    *out_mmd2 = m > 0.0 ? m : 0.0;
    if (out_bandwidth)
        *out_bandwidth = h;
    if (out_nonfinite)
        *out_nonfinite = p.nonfinite;
    pair_sets_free(&p);
    return SM_OK;
}

/* ---- Fréchet distance ---------------------------------------------------- */

/* Rows centred at a time before their outer products are added up. */
enum { FD_BLOCK = 256 };

/* Mean mu[dim] and covariance cov[dim × dim] (full, 1/(m − 1)) of the m rows
 * of x (n × dim) that are finite, in double: the mean first, then the sum of
 * the outer products of the centred rows, FD_BLOCK rows per product. blk
 * holds FD_BLOCK × dim doubles. */
static void gaussian_fit(sm__blas *bl, const float *x, size_t n, size_t dim, size_t m,
                         double *mu, double *cov, double *blk)
{
    memset(mu, 0, dim * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * dim;
        if (sm__row_finite(row, dim))
            for (size_t j = 0; j < dim; j++)
                mu[j] += (double)row[j];
    }
    for (size_t j = 0; j < dim; j++)
        mu[j] /= (double)m;
    memset(cov, 0, dim * dim * sizeof(double));
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * dim;
        if (sm__row_finite(row, dim)) {
            double *b = blk + r * dim;
            for (size_t j = 0; j < dim; j++)
                b[j] = (double)row[j] - mu[j];
            r++;
        }
        if (r == FD_BLOCK || (i + 1 == n && r > 0)) {
            /* cov += blkᵀ · blk (dim × r times r × dim) */
            sm__dgemm(bl, dim, dim, r, 1.0, blk, 1, (ptrdiff_t)dim, blk, (ptrdiff_t)dim, 1,
                      1.0, cov, (ptrdiff_t)dim, 1);
            r = 0;
        }
    }
    double s = 1.0 / (double)(m - 1);
    for (size_t j = 0; j < dim * dim; j++)
        cov[j] *= s;
}

sm_status sm_metric_frechet_distance(const float *real, size_t n_real, const float *gen,
                                     size_t n_gen, size_t dim, double *out_fd,
                                     size_t *out_nonfinite)
{
    const char *fn = __func__;
    if (!out_fd)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out_fd is NULL", fn);
    sm_status st = check_sets(fn, real, n_real, gen, n_gen, dim);
    if (st)
        return st;
    if (n_real < 2 || n_gen < 2)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: n_real and n_gen must be >= 2 to fit a covariance (got %zu, %zu)",
                         fn, n_real, n_gen);
    if (dim > SM__SYM_EIG_MAX_N)
        return sm__error(SM_ERR_OVERFLOW, "%s: dim = %zu exceeds the largest supported (%d)",
                         fn, dim, SM__SYM_EIG_MAX_N);
    size_t nonfinite = count_nonfinite_rows(gen, n_gen, dim);
    size_t m_fin = n_gen - nonfinite;
    if (m_fin < 2)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: only %zu of %zu generated points are finite; a covariance "
                         "needs at least 2",
                         fn, m_fin, n_gen);

    /* mu1 | mu2 | eigenvalues, then C1 | C2 | product | row block. */
    size_t dd = dim * dim; /* dim <= SM__SYM_EIG_MAX_N: no overflow */
    double *vec = sm__calloc(3, dim * sizeof(double));
    double *mat = sm__calloc(3 * dd + (size_t)FD_BLOCK * dim, sizeof(double));
    sm__blas *bl = sm__blas_new(1);
    if (!vec || !mat || !bl) {
        st = sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu x %zu covariances", fn, dim,
                       dim);
        goto done;
    }
    double *mu1 = vec, *mu2 = vec + dim, *w = vec + 2 * dim;
    double *c1 = mat, *c2 = mat + dd, *t = mat + 2 * dd, *blk = mat + 3 * dd;
    gaussian_fit(bl, real, n_real, dim, n_real, mu1, c1, blk);
    gaussian_fit(bl, gen, n_gen, dim, m_fin, mu2, c2, blk);

    double mean2 = 0.0, tr = 0.0;
    for (size_t j = 0; j < dim; j++) {
        double d = mu1[j] - mu2[j];
        mean2 += d * d;
        tr += c1[j * dim + j] + c2[j * dim + j];
    }
    /* C1 = V Λ Vᵀ. With U = V Λ^½, C1^½ C2 C1^½ = V (Uᵀ C2 U) Vᵀ: the trace
     * of its square root is Σ √μ over the eigenvalues μ of Uᵀ C2 U. After
     * the call row i of c1 is the eigenvector of w[i]; scaling it by √w[i]
     * makes c1 = Uᵀ. Eigenvalues below 0 (rounding, or a singular
     * covariance) are taken as 0. */
    if ((st = sm__sym_eig(c1, dim, 1, w, fn)))
        goto done;
    for (size_t i = 0; i < dim; i++) {
        double s = w[i] > 0.0 ? sqrt(w[i]) : 0.0;
        for (size_t j = 0; j < dim; j++)
            c1[i * dim + j] *= s;
    }
    /* t = C2 · U, then c2 = Uᵀ · t. */
    sm__dgemm(bl, dim, dim, dim, 1.0, c2, (ptrdiff_t)dim, 1, c1, 1, (ptrdiff_t)dim, 0.0, t,
              (ptrdiff_t)dim, 1);
    sm__dgemm(bl, dim, dim, dim, 1.0, c1, (ptrdiff_t)dim, 1, t, (ptrdiff_t)dim, 1, 0.0, c2,
              (ptrdiff_t)dim, 1);
    if ((st = sm__sym_eig(c2, dim, 0, w, fn)))
        goto done;
    double root = 0.0;
    for (size_t i = 0; i < dim; i++)
        root += w[i] > 0.0 ? sqrt(w[i]) : 0.0;
    double fd = mean2 + tr - 2.0 * root;
    *out_fd = fd > 0.0 ? fd : 0.0;
    if (out_nonfinite)
        *out_nonfinite = nonfinite;
done:
    sm__blas_free(bl);
    free(vec);
    free(mat);
    return st;
}
