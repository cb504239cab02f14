/* Toy distributions (scikit-learn / FFJORD geometry) filling sm_dataset. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dataset-private.h"
#include "rng-private.h"
#include "scorematch/toydata.h"

#define SM_PI 3.14159265358979323846

/* Checks the arguments every generator has; sets *out to NULL first. */
static sm_status check_common(const char *fn, sm_dataset **out, size_t n, sm_rng *rng)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is NULL", fn);
    if (n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n must be > 0", fn);
    return SM_OK;
}

/* A finite, non-negative parameter (noise, standard deviations). */
static sm_status check_nonneg(const char *fn, const char *name, double v)
{
    if (!isfinite(v) || v < 0.0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: %s must be finite and >= 0 (got %g)", fn,
                         name, v);
    return SM_OK;
}

/* An n × dim data set of zeros with n zero labels. */
static sm_status alloc_labeled(sm_dataset **out, size_t n, size_t dim, const char *fn)
{
    sm_status st = sm__dataset_alloc(out, n, dim, fn);
    if (st)
        return st;
    (*out)->labels = sm__calloc(n, sizeof(int32_t));
    if (!(*out)->labels) {
        sm_dataset_free(*out);
        *out = NULL;
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu labels", fn, n);
    }
    return SM_OK;
}

/* Points in part c when n is shared by k parts as make_blobs does. */
static size_t blob_share(size_t n, size_t k, size_t c)
{
    return n / k + (c < n % k ? 1 : 0);
}

/* Fisher–Yates over the rows, labels moved with their rows. */
static void shuffle_rows(sm_dataset *ds, sm_rng *rng)
{
    size_t dim = ds->dim;
    for (size_t i = ds->n; i-- > 1;) {
        size_t j = (size_t)sm__rng_below(rng, (uint64_t)i + 1);
        if (j == i)
            continue;
        float *a = ds->x + i * dim, *b = ds->x + j * dim;
        for (size_t c = 0; c < dim; c++) {
            float t = a[c];
            a[c] = b[c];
            b[c] = t;
        }
        int32_t t = ds->labels[i];
        ds->labels[i] = ds->labels[j];
        ds->labels[j] = t;
    }
}

/* Shuffles if asked, adds the noise, checks that every value is finite
 * (huge parameters can overflow float), and hands the data set out. */
static sm_status finish(sm_dataset *ds, sm_dataset **out, double noise, int shuffle,
                        sm_rng *rng, const char *fn)
{
    if (shuffle)
        shuffle_rows(ds, rng);
    size_t total = ds->n * ds->dim;
    if (noise > 0.0)
        for (size_t i = 0; i < total; i++)
            ds->x[i] = (float)((double)ds->x[i] + noise * sm__rng_normal(rng));
    size_t bad = sm__first_nonfinite(ds->x, total);
    if (bad < total) {
        size_t row = bad / ds->dim;
        sm_dataset_free(ds);
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: parameters too large, point %zu is not finite in float", fn,
                         row);
    }
    *out = ds;
    return SM_OK;
}

/* np.linspace(0, stop, num, endpoint)[i] */
static double linspace(double stop, size_t num, int endpoint, size_t i)
{
    if (endpoint)
        return num > 1 ? stop * (double)i / (double)(num - 1) : 0.0;
    return stop * (double)i / (double)num;
}

sm_status sm_toy_moons(sm_dataset **out, size_t n, double noise, int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_moons";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "noise", noise)))
        return st;
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t n_out = n / 2, n_in = n - n_out;
    for (size_t i = 0; i < n_out; i++) {
        double t = linspace(SM_PI, n_out, 1, i);
        ds->x[2 * i] = (float)cos(t);
        ds->x[2 * i + 1] = (float)sin(t);
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = linspace(SM_PI, n_in, 1, i);
        float *p = ds->x + 2 * (n_out + i);
        p[0] = (float)(1.0 - cos(t));
        p[1] = (float)(1.0 - sin(t) - 0.5);
        ds->labels[n_out + i] = 1;
    }
    return finish(ds, out, noise, shuffle, rng, fn);
}

sm_status sm_toy_circles(sm_dataset **out, size_t n, double noise, double factor,
                         int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_circles";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "noise", noise)))
        return st;
    if (!(factor > 0.0 && factor < 1.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: factor must be in (0, 1) (got %g)", fn,
                         factor);
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t n_out = n / 2, n_in = n - n_out;
    for (size_t i = 0; i < n_out; i++) {
        double t = linspace(2.0 * SM_PI, n_out, 0, i);
        ds->x[2 * i] = (float)cos(t);
        ds->x[2 * i + 1] = (float)sin(t);
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = linspace(2.0 * SM_PI, n_in, 0, i);
        float *p = ds->x + 2 * (n_out + i);
        p[0] = (float)(factor * cos(t));
        p[1] = (float)(factor * sin(t));
        ds->labels[n_out + i] = 1;
    }
    return finish(ds, out, noise, shuffle, rng, fn);
}

/* Labels up to INT32_MAX; more parts than that cannot be labelled. */
static sm_status check_parts(const char *fn, const char *name, size_t k)
{
    if (k == 0 || k > (size_t)INT32_MAX)
        return sm__error(SM_ERR_INVALID_ARG, "%s: %s must be in 1..%ld (got %zu)", fn, name,
                         (long)INT32_MAX, k);
    return SM_OK;
}

sm_status sm_toy_blobs(sm_dataset **out, size_t n, size_t dim, const float *centers,
                       size_t n_centers, double cluster_std, int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_blobs";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "cluster_std", cluster_std)) ||
        (st = check_parts(fn, "n_centers", n_centers)))
        return st;
    if (dim == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: dim must be > 0", fn);
    size_t nc;
    if (sm__mul_size(n_centers, dim, &nc) || nc > SIZE_MAX / sizeof(float))
        return sm__error(SM_ERR_OVERFLOW, "%s: n_centers*dim overflows", fn);
    if (centers) {
        size_t bad = sm__first_nonfinite(centers, nc);
        if (bad < nc)
            return sm__error(SM_ERR_INVALID_ARG,
                             "%s: centre %zu has a non-finite coordinate %zu", fn, bad / dim,
                             bad % dim);
    }
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, dim, fn)))
        return st;
    float *own = NULL;
    if (!centers) {
        own = sm__calloc(nc, sizeof(float));
        if (!own) {
            sm_dataset_free(ds);
            return sm__error(SM_ERR_NOMEM, "%s: out of memory for the centres", fn);
        }
        for (size_t i = 0; i < nc; i++)
            own[i] = (float)(-10.0 + 20.0 * sm__rng_uniform(rng));
        centers = own;
    }
    size_t row = 0;
    for (size_t c = 0; c < n_centers; c++) {
        size_t m = blob_share(n, n_centers, c);
        const float *mu = centers + c * dim;
        for (size_t i = 0; i < m; i++, row++) {
            float *p = ds->x + row * dim;
            for (size_t j = 0; j < dim; j++)
                p[j] = (float)((double)mu[j] + cluster_std * sm__rng_normal(rng));
            ds->labels[row] = (int32_t)c;
        }
    }
    free(own);
    return finish(ds, out, 0.0, shuffle, rng, fn);
}

sm_status sm_toy_gaussian_mixture(sm_dataset **out, size_t n, size_t dim, const float *means,
                                  const double *stds, const double *weights,
                                  size_t n_components, sm_rng *rng)
{
    static const char fn[] = "sm_toy_gaussian_mixture";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_parts(fn, "n_components", n_components)))
        return st;
    if (!means)
        return sm__error(SM_ERR_INVALID_ARG, "%s: means is NULL", fn);
    if (dim == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: dim must be > 0", fn);
    if (sm__array_too_big(n_components, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n_components*dim overflows", fn);
    const size_t nc = n_components * dim;
    size_t bad = sm__first_nonfinite(means, nc);
    if (bad < nc)
        return sm__error(SM_ERR_INVALID_ARG, "%s: mean %zu has a non-finite coordinate %zu",
                         fn, bad / dim, bad % dim);
    double total = 0.0;
    for (size_t c = 0; c < n_components; c++) {
        if (stds && (!isfinite(stds[c]) || stds[c] < 0.0))
            return sm__error(SM_ERR_INVALID_ARG,
                             "%s: stds[%zu] must be finite and >= 0 (got %g)", fn, c, stds[c]);
        if (weights) {
            if (!isfinite(weights[c]) || weights[c] < 0.0)
                return sm__error(SM_ERR_INVALID_ARG,
                                 "%s: weights[%zu] must be finite and >= 0 (got %g)", fn, c,
                                 weights[c]);
            total += weights[c];
        }
    }
    if (weights && !(total > 0.0 && isfinite(total)))
        return sm__error(SM_ERR_INVALID_ARG, "%s: weights must have a finite positive sum",
                         fn);
    double *cum = sm__calloc(n_components, sizeof(double));
    if (!cum)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    double acc = 0.0;
    size_t last = 0; /* last component with positive weight */
    for (size_t c = 0; c < n_components; c++) {
        double w = weights ? weights[c] : 1.0;
        acc += w;
        cum[c] = acc;
        if (w > 0.0)
            last = c;
    }
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, dim, fn))) {
        free(cum);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        double u = sm__rng_uniform(rng) * acc;
        /* First component whose cumulative weight exceeds u (binary search). */
        size_t lo = 0, hi = n_components;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (u < cum[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        size_t c = lo < n_components ? lo : last;
        double sd = stds ? stds[c] : 1.0;
        const float *mu = means + c * dim;
        float *p = ds->x + i * dim;
        for (size_t j = 0; j < dim; j++)
            p[j] = (float)((double)mu[j] + sd * sm__rng_normal(rng));
        ds->labels[i] = (int32_t)c;
    }
    free(cum);
    return finish(ds, out, 0.0, 0, rng, fn);
}

sm_status sm_toy_swiss_roll(sm_dataset **out, size_t n, double noise, float *t_out,
                            sm_rng *rng)
{
    static const char fn[] = "sm_toy_swiss_roll";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "noise", noise)))
        return st;
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    for (size_t i = 0; i < n; i++) {
        double t = 1.5 * SM_PI * (1.0 + 2.0 * sm__rng_uniform(rng));
        ds->x[2 * i] = (float)(t * cos(t));
        ds->x[2 * i + 1] = (float)(t * sin(t));
        if (t_out)
            t_out[i] = (float)t;
    }
    return finish(ds, out, noise, 0, rng, fn);
}

sm_status sm_toy_spirals(sm_dataset **out, size_t n, double noise, int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_spirals";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "noise", noise)))
        return st;
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t n0 = n / 2;
    for (size_t i = 0; i < n; i++) {
        double t = 3.0 * SM_PI * sqrt(sm__rng_uniform(rng));
        double s = i < n0 ? 1.0 : -1.0;
        ds->x[2 * i] = (float)(-s * t * cos(t) / 3.0);
        ds->x[2 * i + 1] = (float)(s * t * sin(t) / 3.0);
        ds->labels[i] = i < n0 ? 0 : 1;
    }
    return finish(ds, out, noise, shuffle, rng, fn);
}

/* lo + w·u for u in [0, 1), kept below hi = lo + w after rounding to float. */
static float uniform_in(double lo, double w, sm_rng *rng)
{
    float hi = (float)(lo + w);
    float v = (float)(lo + w * sm__rng_uniform(rng));
    return v < hi ? v : nextafterf(hi, -INFINITY);
}

sm_status sm_toy_checkerboard(sm_dataset **out, size_t n, int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_checkerboard";
    sm_status st = check_common(fn, out, n, rng);
    if (st)
        return st;
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t row = 0;
    for (int c = 0; c < 8; c++) {
        int i = c / 2, j = 2 * (c % 2) + i % 2; /* column, row; i + j even */
        size_t m = blob_share(n, 8, (size_t)c);
        for (size_t k = 0; k < m; k++, row++) {
            ds->x[2 * row] = uniform_in(2.0 * i - 4.0, 2.0, rng);
            ds->x[2 * row + 1] = uniform_in(2.0 * j - 4.0, 2.0, rng);
            ds->labels[row] = c;
        }
    }
    return finish(ds, out, 0.0, shuffle, rng, fn);
}

sm_status sm_toy_eight_gaussians(sm_dataset **out, size_t n, double radius, double std,
                                 int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_eight_gaussians";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_nonneg(fn, "std", std)))
        return st;
    if (!isfinite(radius) || !(radius > 0.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: radius must be finite and > 0 (got %g)",
                         fn, radius);
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t row = 0;
    for (int c = 0; c < 8; c++) {
        double a = 2.0 * SM_PI * c / 8.0;
        double cx = radius * cos(a), cy = radius * sin(a);
        size_t m = blob_share(n, 8, (size_t)c);
        for (size_t k = 0; k < m; k++, row++) {
            ds->x[2 * row] = (float)(cx + std * sm__rng_normal(rng));
            ds->x[2 * row + 1] = (float)(cy + std * sm__rng_normal(rng));
            ds->labels[row] = c;
        }
    }
    return finish(ds, out, 0.0, shuffle, rng, fn);
}

sm_status sm_toy_pinwheel(sm_dataset **out, size_t n, size_t n_arms, double radial_std,
                          double tangential_std, double rate, int shuffle, sm_rng *rng)
{
    static const char fn[] = "sm_toy_pinwheel";
    sm_status st = check_common(fn, out, n, rng);
    if (st || (st = check_parts(fn, "n_arms", n_arms)) ||
        (st = check_nonneg(fn, "radial_std", radial_std)) ||
        (st = check_nonneg(fn, "tangential_std", tangential_std)))
        return st;
    if (!isfinite(rate))
        return sm__error(SM_ERR_INVALID_ARG, "%s: rate must be finite (got %g)", fn, rate);
    sm_dataset *ds;
    if ((st = alloc_labeled(&ds, n, 2, fn)))
        return st;
    size_t row = 0;
    for (size_t c = 0; c < n_arms; c++) {
        double base = 2.0 * SM_PI * (double)c / (double)n_arms;
        size_t m = blob_share(n, n_arms, c);
        for (size_t k = 0; k < m; k++, row++) {
            double f0 = 1.0 + radial_std * sm__rng_normal(rng);
            double f1 = tangential_std * sm__rng_normal(rng);
            double a = base + rate * exp(f0);
            double ca = cos(a), sa = sin(a);
            ds->x[2 * row] = (float)(2.0 * (f0 * ca + f1 * sa));
            ds->x[2 * row + 1] = (float)(2.0 * (-f0 * sa + f1 * ca));
            ds->labels[row] = (int32_t)c;
        }
    }
    return finish(ds, out, 0.0, shuffle, rng, fn);
}
