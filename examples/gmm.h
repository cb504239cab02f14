/* A Gaussian mixture fitted by expectation–maximisation: the likelihood-
 * based competitor of the experiments (example code, not library API).
 *
 * Full covariances in any dimension d (Cholesky factors), k-means++
 * initialisation drawn from an sm_rng, the mean log-likelihood monitored
 * at every iteration, and sampling from the fitted mixture. */
#ifndef SM_EXAMPLES_GMM_H
#define SM_EXAMPLES_GMM_H

#include <stddef.h>

#include <scorematch.h>

typedef struct {
    size_t k, dim;
    double *weight; /* k mixing weights, summing to 1 */
    double *mean;   /* k × dim */
    double *cov;    /* k × dim × dim covariances */
    double *chol;   /* k × dim × dim lower Cholesky factors of cov */
    double *logdet; /* k values of log |cov| */
} gmm;

/* Fits a k-component mixture to the n × dim points x by EM: k-means++
 * centres (drawn with rng) as initial means, the data covariance as every
 * initial covariance, equal weights; then at most max_iter EM iterations,
 * stopping when the mean log-likelihood improves by less than tol. reg is
 * added to every covariance diagonal (e.g. 1e-6). If ll_trace is not NULL
 * it receives the mean log-likelihood before each M-step (at most
 * max_iter values, *n_iter of them). Returns 0, or -1 on bad arguments or
 * out of memory (a covariance that is not positive definite also fails). */
int gmm_fit(gmm *g, const float *x, size_t n, size_t dim, size_t k, size_t max_iter,
            double tol, double reg, sm_rng *rng, double *ll_trace, size_t *n_iter);

/* Mean log-likelihood of n points under the mixture. */
double gmm_mean_loglik(const gmm *g, const float *x, size_t n);

/* Draws n points (n × dim) from the mixture. Returns 0 or -1. */
int gmm_sample(const gmm *g, sm_rng *rng, float *out, size_t n);

/* Frees the arrays (g itself is the caller's); safe on a zeroed gmm. */
void gmm_free(gmm *g);

#endif
