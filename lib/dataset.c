/* Point sets: construction, access, labels, standardization. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dataset-private.h"

sm_status sm__dataset_alloc(sm_dataset **out, size_t n, size_t dim,
                            const char *fn)
{
    *out = NULL;
    if (n == 0 || dim == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: n and dim must be > 0 (got n=%zu, dim=%zu)",
                         fn, n, dim);
    size_t total, bytes;
    if (sm__mul_size(n, dim, &total) || sm__mul_size(total, sizeof(float), &bytes))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows (n=%zu, dim=%zu)", fn, n, dim);
    sm_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    ds->n = n;
    ds->dim = dim;
    ds->x = sm__calloc(total, sizeof(float));
    ds->mean = sm__calloc(dim, sizeof(float));
    ds->std = sm__calloc(dim, sizeof(float));
    if (!ds->x || !ds->mean || !ds->std) {
        sm_dataset_free(ds);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu x %zu points", fn, n, dim);
    }
    for (size_t j = 0; j < dim; j++)
        ds->std[j] = 1.0f;
    *out = ds;
    return SM_OK;
}

sm_status sm_dataset_new(sm_dataset **out, const float *data, size_t n, size_t dim)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_new: out is NULL");
    *out = NULL;
    if (!data)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_new: data is NULL");
    sm_dataset *ds;
    sm_status st = sm__dataset_alloc(&ds, n, dim, "sm_dataset_new");
    if (st)
        return st;
    size_t total = n * dim;
    size_t bad = sm__first_nonfinite(data, total);
    if (bad < total) {
        sm_dataset_free(ds);
        return sm__error(SM_ERR_NONFINITE,
                         "sm_dataset_new: non-finite value at row %zu, column %zu",
                         bad / dim, bad % dim);
    }
    memcpy(ds->x, data, total * sizeof(float));
    *out = ds;
    return SM_OK;
}

sm_status sm_dataset_clone(const sm_dataset *ds, sm_dataset **out)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_clone: out is NULL");
    *out = NULL;
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_clone: ds is NULL");
    sm_dataset *c;
    sm_status st = sm__dataset_alloc(&c, ds->n, ds->dim, "sm_dataset_clone");
    if (st)
        return st;
    memcpy(c->x, ds->x, ds->n * ds->dim * sizeof(float));
    memcpy(c->mean, ds->mean, ds->dim * sizeof(float));
    memcpy(c->std, ds->std, ds->dim * sizeof(float));
    c->standardized = ds->standardized;
    c->header_rows = ds->header_rows;
    if (ds->names) {
        if (!(c->names = malloc(ds->names_len))) {
            sm_dataset_free(c);
            return sm__error(SM_ERR_NOMEM, "sm_dataset_clone: out of memory");
        }
        memcpy(c->names, ds->names, ds->names_len);
        c->names_len = ds->names_len;
    }
    if ((ds->labels && (st = sm_dataset_set_labels(c, ds->labels, ds->n))) ||
        (ds->ctx && (st = sm_dataset_set_context(c, ds->ctx, ds->n, ds->cdim)))) {
        sm_dataset_free(c);
        return st;
    }
    *out = c;
    return SM_OK;
}

void sm_dataset_free(sm_dataset *ds)
{
    if (!ds)
        return;
    free(ds->x);
    free(ds->labels);
    free(ds->ctx);
    free(ds->mean);
    free(ds->std);
    free(ds->names);
    free(ds);
}

size_t sm_dataset_size(const sm_dataset *ds)
{
    return ds ? ds->n : 0;
}

size_t sm_dataset_dim(const sm_dataset *ds)
{
    return ds ? ds->dim : 0;
}

size_t sm_dataset_header_rows(const sm_dataset *ds)
{
    return ds ? ds->header_rows : 0;
}

const char *sm_dataset_column_name(const sm_dataset *ds, size_t j)
{
    if (!ds || !ds->names || j >= ds->dim)
        return NULL;
    const char *p = ds->names;
    while (j--)
        p += strlen(p) + 1;
    return p;
}

const float *sm_dataset_data(const sm_dataset *ds)
{
    return ds ? ds->x : NULL;
}

const float *sm_dataset_row(const sm_dataset *ds, size_t i)
{
    return (ds && i < ds->n) ? ds->x + i * ds->dim : NULL;
}

sm_status sm_dataset_set_labels(sm_dataset *ds, const int32_t *labels, size_t n)
{
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_set_labels: ds is NULL");
    if (!labels) {
        free(ds->labels);
        ds->labels = NULL;
        return SM_OK;
    }
    if (n != ds->n)
        return sm__error(SM_ERR_SHAPE, "sm_dataset_set_labels: %zu labels for %zu points",
                         n, ds->n);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0)
            return sm__error(SM_ERR_INVALID_ARG,
                             "sm_dataset_set_labels: label %zu is negative (%d)", i,
                             (int)labels[i]);
    int32_t *copy = sm__calloc(n, sizeof *copy);
    if (!copy)
        return sm__error(SM_ERR_NOMEM, "sm_dataset_set_labels: out of memory");
    memcpy(copy, labels, n * sizeof *copy);
    free(ds->labels);
    ds->labels = copy;
    return SM_OK;
}

sm_status sm_dataset_set_context(sm_dataset *ds, const float *ctx, size_t n,
                                 size_t context_dim)
{
    const char *fn = "sm_dataset_set_context";
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    if (!ctx) {
        free(ds->ctx);
        ds->ctx = NULL;
        ds->cdim = 0;
        return SM_OK;
    }
    if (context_dim == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: context_dim must be >= 1", fn);
    if (n != ds->n)
        return sm__error(SM_ERR_SHAPE, "%s: %zu context rows for %zu points", fn, n, ds->n);
    if (sm__array_too_big(n, context_dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*context_dim overflows", fn);
    const size_t total = n * context_dim, bad = sm__first_nonfinite(ctx, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE, "%s: context row %zu, column %zu is not finite", fn,
                         bad / context_dim, bad % context_dim);
    float *copy = sm__calloc(total, sizeof(float));
    if (!copy)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(copy, ctx, total * sizeof(float));
    free(ds->ctx);
    ds->ctx = copy;
    ds->cdim = context_dim;
    return SM_OK;
}

const float *sm_dataset_context(const sm_dataset *ds)
{
    return ds ? ds->ctx : NULL;
}

size_t sm_dataset_context_dim(const sm_dataset *ds)
{
    return ds ? ds->cdim : 0;
}

sm_status sm_labels_one_hot(const int32_t *labels, size_t n, size_t num_classes, float *ctx)
{
    const char *fn = "sm_labels_one_hot";
    if ((!labels || !ctx) && n)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (num_classes == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: num_classes must be >= 1", fn);
    if (sm__array_too_big(n, num_classes, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*num_classes overflows", fn);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)num_classes)
            return sm__error(SM_ERR_INVALID_ARG, "%s: label %zu is %ld, outside [0, %zu)", fn,
                             i, (long)labels[i], num_classes);
    memset(ctx, 0, n * num_classes * sizeof(float));
    for (size_t i = 0; i < n; i++)
        ctx[i * num_classes + (size_t)labels[i]] = 1.0f;
    return SM_OK;
}

const int32_t *sm_dataset_labels(const sm_dataset *ds)
{
    return ds ? ds->labels : NULL;
}

size_t sm_dataset_num_labels(const sm_dataset *ds)
{
    if (!ds || !ds->labels)
        return 0;
    int32_t mx = -1;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] > mx)
            mx = ds->labels[i];
    return (size_t)mx + 1;
}

sm_status sm_dataset_sigma_data(const sm_dataset *ds, double *sigma_data)
{
    const char *fn = "sm_dataset_sigma_data";
    if (!ds || !sigma_data)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    double total = 0.0;
    for (size_t j = 0; j < ds->dim; j++) {
        double sum = 0.0, ss = 0.0;
        for (size_t i = 0; i < ds->n; i++)
            sum += ds->x[i * ds->dim + j];
        const double mean = sum / (double)ds->n;
        for (size_t i = 0; i < ds->n; i++) {
            double d = ds->x[i * ds->dim + j] - mean;
            ss += d * d;
        }
        total += ss / (double)ds->n;
    }
    const double sd = sqrt(total / (double)ds->dim);
    if (!(sd > 0.0) || !((float)sd > 0.0f))
        return sm__error(SM_ERR_INVALID_ARG, "%s: every column is constant: the data has no spread",
                         fn);
    *sigma_data = sd;
    return SM_OK;
}

sm_status sm_dataset_standardize(sm_dataset *ds)
{
    const char *fn = "sm_dataset_standardize";
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    double *stat = sm__calloc(ds->dim, 2 * sizeof(double)); /* means, then stds */
    if (!stat)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    double *means = stat, *sds = stat + ds->dim, sum_var = 0.0;
    for (size_t j = 0; j < ds->dim; j++) {
        /* Two passes in double: float accumulation loses digits at large n. */
        double sum = 0.0;
        for (size_t i = 0; i < ds->n; i++)
            sum += ds->x[i * ds->dim + j];
        double mean = sum / (double)ds->n;
        double ss = 0.0;
        for (size_t i = 0; i < ds->n; i++) {
            double d = ds->x[i * ds->dim + j] - mean;
            ss += d * d;
        }
        means[j] = mean;
        sds[j] = sqrt(ss / (double)ds->n);
        sum_var += ss / (double)ds->n;
    }
    /* The floor: a column whose spread is small against the data's overall
     * spread is scaled as if it had SM_STANDARDIZE_FLOOR of it, so that a
     * near-constant column cannot turn its rare values into huge outliers
     * (and a constant one stays 0). */
    const double floor_sd = SM_STANDARDIZE_FLOOR * sqrt(sum_var / (double)ds->dim);
    for (size_t j = 0; j < ds->dim; j++) {
        double sd = sds[j] > floor_sd ? sds[j] : floor_sd;
        if (!(sd > 0.0) || !isfinite(1.0 / sd))
            sd = 1.0; /* every column constant */
        const double mean = means[j];
        for (size_t i = 0; i < ds->n; i++) {
            float *v = &ds->x[i * ds->dim + j];
            *v = (float)((*v - mean) / sd);
        }
        /* Compose with any earlier standardization: orig = (x*sd+mean)*std0+mean0. */
        ds->mean[j] = (float)(ds->mean[j] + mean * ds->std[j]);
        ds->std[j] = (float)(ds->std[j] * sd);
    }
    free(stat);
    ds->standardized = 1;
    return SM_OK;
}

int sm_dataset_is_standardized(const sm_dataset *ds)
{
    return ds ? ds->standardized : 0;
}

sm_status sm_dataset_get_standardization(const sm_dataset *ds, float *mean,
                                         float *std, size_t dim)
{
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_get_standardization: ds is NULL");
    if (dim != ds->dim)
        return sm__error(SM_ERR_SHAPE,
                         "sm_dataset_get_standardization: dim %zu, data set has %zu", dim,
                         ds->dim);
    if (mean)
        memcpy(mean, ds->mean, dim * sizeof(float));
    if (std)
        memcpy(std, ds->std, dim * sizeof(float));
    return SM_OK;
}

void sm__map_columns(float *p, size_t n, size_t dim, const float *shift, const float *scale,
                     int to_data)
{
    const size_t total = n * dim;
    for (size_t i = 0; i < total; i++) {
        const size_t j = i % dim;
        p[i] = to_data ? p[i] * scale[j] + shift[j] : (p[i] - shift[j]) / scale[j];
    }
}

static sm_status map_points(const sm_dataset *ds, float *p, size_t n, size_t dim,
                            int inverse, const char *fn)
{
    if (!ds || (!p && n))
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != ds->dim)
        return sm__error(SM_ERR_SHAPE, "%s: points have dim %zu, data set has %zu", fn, dim,
                         ds->dim);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    sm__map_columns(p, n, dim, ds->mean, ds->std, inverse);
    return SM_OK;
}

sm_status sm_dataset_unstandardize_points(const sm_dataset *ds, float *points, size_t n,
                                          size_t dim)
{
    return map_points(ds, points, n, dim, 1, "sm_dataset_unstandardize_points");
}

sm_status sm_dataset_standardize_points(const sm_dataset *ds, float *points, size_t n,
                                        size_t dim)
{
    return map_points(ds, points, n, dim, 0, "sm_dataset_standardize_points");
}
