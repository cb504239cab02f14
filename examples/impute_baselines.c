#include "impute_baselines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void impute_mean(const float *train, size_t n_tr, size_t dim, float *x,
                 const unsigned char *mask, size_t n)
{
    for (size_t j = 0; j < dim; j++) {
        double s = 0;
        for (size_t i = 0; i < n_tr; i++)
            s += train[i * dim + j];
        const float m = (float)(s / (double)n_tr);
        for (size_t i = 0; i < n; i++)
            if (!mask[i * dim + j])
                x[i * dim + j] = m;
    }
}

int impute_knn(const float *train, size_t n_tr, size_t dim, float *x, const unsigned char *mask,
               size_t n, size_t k)
{
    if (k > n_tr)
        k = n_tr;
    double *best = malloc(k * sizeof(double));
    size_t *idx = malloc(k * sizeof(size_t));
    if (!best || !idx) {
        free(best);
        free(idx);
        return -1;
    }
    for (size_t r = 0; r < n; r++) {
        const unsigned char *m = mask + r * dim;
        float *q = x + r * dim;
        size_t found = 0;
        /* The k smallest distances, kept sorted by insertion. */
        for (size_t i = 0; i < n_tr; i++) {
            double d = 0;
            for (size_t j = 0; j < dim; j++)
                if (m[j]) {
                    const double e = (double)q[j] - train[i * dim + j];
                    d += e * e;
                }
            if (found == k && d >= best[k - 1])
                continue;
            size_t p = found < k ? found++ : k - 1;
            while (p > 0 && best[p - 1] > d) {
                best[p] = best[p - 1];
                idx[p] = idx[p - 1];
                p--;
            }
            best[p] = d;
            idx[p] = i;
        }
        for (size_t j = 0; j < dim; j++)
            if (!m[j]) {
                double s = 0;
                for (size_t t = 0; t < found; t++)
                    s += train[idx[t] * dim + j];
                q[j] = (float)(s / (double)found);
            }
    }
    free(best);
    free(idx);
    return 0;
}

double rmse_missing(const float *x, const float *truth, const unsigned char *mask, size_t total)
{
    double s = 0;
    size_t c = 0;
    for (size_t i = 0; i < total; i++)
        if (!mask[i]) {
            const double e = (double)x[i] - truth[i];
            s += e * e;
            c++;
        }
    return c ? sqrt(s / (double)c) : NAN;
}

size_t parse_draws(const char *list, size_t *out, size_t max)
{
    size_t n = 0;
    for (const char *p = list; *p && n < max;) {
        char *end;
        const unsigned long long k = strtoull(p, &end, 10);
        if (end == p || k == 0 || k > 10000 || (*end && *end != ','))
            return 0;
        out[n++] = (size_t)k;
        p = *end ? end + 1 : end;
    }
    return n;
}

void print_model_rmse(double rmse, size_t draws, double spread, unsigned long long nfe,
                      const char *sampler)
{
    char spt[48] = "";
    if (draws > 1)
        snprintf(spt, sizeof spt, "  spread=%.4f", spread);
    printf("model   rmse=%.4f (mean of %zu draw%s)%s  nfe=%llu  %s\n", rmse, draws,
           draws == 1 ? "" : "s", spt, nfe, sampler);
    fflush(stdout);
}
