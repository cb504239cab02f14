/* Gaussian mixture EM (see gmm.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gmm.h"

#define GMM_LOG_2PI 1.8378770664093453

/* Lower Cholesky factor of the d × d matrix a into l; returns -1 if a is
 * not positive definite. */
static int cholesky(const double *a, double *l, size_t d)
{
    memset(l, 0, d * d * sizeof *l);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = a[i * d + j];
            for (size_t p = 0; p < j; p++)
                s -= l[i * d + p] * l[j * d + p];
            if (i == j) {
                if (!(s > 0))
                    return -1;
                l[i * d + i] = sqrt(s);
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    return 0;
}

static int gmm_factor(gmm *g)
{
    size_t d = g->dim;
    for (size_t c = 0; c < g->k; c++) {
        double *l = g->chol + c * d * d;
        if (cholesky(g->cov + c * d * d, l, d))
            return -1;
        double ld = 0;
        for (size_t i = 0; i < d; i++)
            ld += 2 * log(l[i * d + i]);
        g->logdet[c] = ld;
    }
    return 0;
}

/* log N(x | mean_c, cov_c); tmp holds d doubles. */
static double log_normal(const gmm *g, size_t c, const float *x, double *tmp)
{
    size_t d = g->dim;
    const double *l = g->chol + c * d * d, *m = g->mean + c * d;
    double q = 0;
    for (size_t i = 0; i < d; i++) { /* forward substitution L z = x - m */
        double s = (double)x[i] - m[i];
        for (size_t p = 0; p < i; p++)
            s -= l[i * d + p] * tmp[p];
        tmp[i] = s / l[i * d + i];
        q += tmp[i] * tmp[i];
    }
    return -0.5 * ((double)d * GMM_LOG_2PI + g->logdet[c] + q);
}

/* log Σ_c w_c N(x | c); fills lp with the k per-component terms. */
static double log_mix(const gmm *g, const float *x, double *lp, double *tmp)
{
    double mx = -INFINITY;
    for (size_t c = 0; c < g->k; c++) {
        lp[c] = log(g->weight[c]) + log_normal(g, c, x, tmp);
        mx = fmax(mx, lp[c]);
    }
    double s = 0;
    for (size_t c = 0; c < g->k; c++)
        s += exp(lp[c] - mx);
    return mx + log(s);
}

void gmm_free(gmm *g)
{
    if (!g)
        return;
    free(g->weight);
    free(g->mean);
    free(g->cov);
    free(g->chol);
    free(g->logdet);
    memset(g, 0, sizeof *g);
}

double gmm_mean_loglik(const gmm *g, const float *x, size_t n)
{
    double *lp = malloc((g->k + g->dim) * sizeof *lp);
    if (!lp || n == 0) {
        free(lp);
        return NAN;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += log_mix(g, x + i * g->dim, lp, lp + g->k);
    free(lp);
    return s / (double)n;
}

int gmm_fit(gmm *g, const float *x, size_t n, size_t dim, size_t k, size_t max_iter,
            double tol, double reg, sm_rng *rng, double *ll_trace, size_t *n_iter)
{
    if (!g || !x || !rng || n == 0 || dim == 0 || k == 0 || k > n || !(reg >= 0))
        return -1;
    memset(g, 0, sizeof *g);
    g->k = k;
    g->dim = dim;
    g->weight = malloc(k * sizeof *g->weight);
    g->mean = malloc(k * dim * sizeof *g->mean);
    g->cov = malloc(k * dim * dim * sizeof *g->cov);
    g->chol = malloc(k * dim * dim * sizeof *g->chol);
    g->logdet = malloc(k * sizeof *g->logdet);
    double *resp = malloc(n * k * sizeof *resp);   /* responsibilities */
    double *d2 = malloc(n * sizeof *d2);           /* k-means++ distances */
    double *work = malloc((k + dim) * sizeof *work);
    double *nk = malloc(k * sizeof *nk);
    int rc = -1;
    if (!g->weight || !g->mean || !g->cov || !g->chol || !g->logdet || !resp || !d2 ||
        !work || !nk)
        goto out;

    /* k-means++: first centre uniform, then proportional to D². */
    size_t first = (size_t)sm_rng_below(rng, n);
    for (size_t j = 0; j < dim; j++)
        g->mean[j] = x[first * dim + j];
    for (size_t i = 0; i < n; i++)
        d2[i] = INFINITY;
    for (size_t c = 1; c < k; c++) {
        double tot = 0;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < dim; j++) {
                double t = x[i * dim + j] - g->mean[(c - 1) * dim + j];
                s += t * t;
            }
            d2[i] = fmin(d2[i], s);
            tot += d2[i];
        }
        size_t pick = n - 1;
        if (tot > 0) {
            double u = sm_rng_uniform(rng) * tot, acc = 0;
            for (size_t i = 0; i < n; i++) {
                acc += d2[i];
                if (acc > u) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (size_t)sm_rng_below(rng, n);
        }
        for (size_t j = 0; j < dim; j++)
            g->mean[c * dim + j] = x[pick * dim + j];
    }
    /* Initial covariances: the data covariance; equal weights. */
    double *mu = work; /* dim values (work has k + dim) */
    for (size_t j = 0; j < dim; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * dim + j];
        mu[j] = s / (double)n;
    }
    for (size_t a = 0; a < dim; a++)
        for (size_t b = 0; b <= a; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (x[i * dim + a] - mu[a]) * (x[i * dim + b] - mu[b]);
            s /= (double)n;
            if (a == b)
                s += reg;
            for (size_t c = 0; c < k; c++)
                g->cov[c * dim * dim + a * dim + b] = g->cov[c * dim * dim + b * dim + a] = s;
        }
    for (size_t c = 0; c < k; c++)
        g->weight[c] = 1.0 / (double)k;

    size_t it = 0;
    double prev = -INFINITY;
    for (; it < max_iter; it++) {
        if (gmm_factor(g))
            goto out;
        /* E-step. */
        double ll = 0;
        for (size_t i = 0; i < n; i++) {
            double *r = resp + i * k;
            double lse = log_mix(g, x + i * dim, r, work + k);
            for (size_t c = 0; c < k; c++)
                r[c] = exp(r[c] - lse);
            ll += lse;
        }
        ll /= (double)n;
        if (ll_trace)
            ll_trace[it] = ll;
        if (it > 0 && ll - prev < tol) {
            it++;
            break;
        }
        prev = ll;
        /* M-step. */
        for (size_t c = 0; c < k; c++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += resp[i * k + c];
            nk[c] = s;
        }
        for (size_t c = 0; c < k; c++) {
            double *m = g->mean + c * dim, *cv = g->cov + c * dim * dim;
            if (!(nk[c] > 1e-10)) { /* an empty component: leave it, tiny weight */
                g->weight[c] = 1e-12;
                continue;
            }
            g->weight[c] = nk[c] / (double)n;
            for (size_t j = 0; j < dim; j++) {
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += resp[i * k + c] * x[i * dim + j];
                m[j] = s / nk[c];
            }
            for (size_t a = 0; a < dim; a++)
                for (size_t b = 0; b <= a; b++) {
                    double s = 0;
                    for (size_t i = 0; i < n; i++)
                        s += resp[i * k + c] * (x[i * dim + a] - m[a]) * (x[i * dim + b] - m[b]);
                    s /= nk[c];
                    if (a == b)
                        s += reg;
                    cv[a * dim + b] = cv[b * dim + a] = s;
                }
        }
    }
    if (gmm_factor(g))
        goto out;
    if (n_iter)
        *n_iter = it;
    rc = 0;
out:
    free(resp);
    free(d2);
    free(work);
    free(nk);
    if (rc)
        gmm_free(g);
    return rc;
}

int gmm_sample(const gmm *g, sm_rng *rng, float *out, size_t n)
{
    if (!g || !g->weight || !rng || !out)
        return -1;
    size_t d = g->dim;
    double *z = malloc(d * sizeof *z);
    if (!z)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double u = sm_rng_uniform(rng), acc = 0;
        size_t c = g->k - 1;
        for (size_t q = 0; q < g->k; q++) {
            acc += g->weight[q];
            if (u < acc) {
                c = q;
                break;
            }
        }
        for (size_t j = 0; j < d; j++)
            z[j] = sm_rng_normal(rng);
        const double *l = g->chol + c * d * d, *m = g->mean + c * d;
        for (size_t a = 0; a < d; a++) {
            double s = m[a];
            for (size_t b = 0; b <= a; b++)
                s += l[a * d + b] * z[b];
            out[i * d + a] = (float)s;
        }
    }
    free(z);
    return 0;
}
