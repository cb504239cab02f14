/* Baselines and scores for the imputation examples: mean imputation,
 * k-nearest-neighbour imputation, RMSE on the missing entries. */
#ifndef IMPUTE_BASELINES_H
#define IMPUTE_BASELINES_H

#include <stddef.h>

/* x's missing entries (mask 0) = the column means of the n_tr complete
 * training rows. */
void impute_mean(const float *train, size_t n_tr, size_t dim, float *x,
                 const unsigned char *mask, size_t n);

/* x's missing entries = the average of those of the k training rows
 * nearest to the row on its observed coordinates (all rows when none is
 * observed). Returns 0, or -1 if out of memory. */
int impute_knn(const float *train, size_t n_tr, size_t dim, float *x, const unsigned char *mask,
               size_t n, size_t k);

/* The --draws list of the imputation examples: comma-separated counts in
 * [1, 10000], at most max of them (the rest ignored), into out. Returns
 * how many, or 0 if an entry is malformed or out of range. */
size_t parse_draws(const char *list, size_t *out, size_t max);

/* Root mean square of x − truth over the missing entries (NaN if none). */
double rmse_missing(const float *x, const float *truth, const unsigned char *mask, size_t total);

/* Prints the model's line of the imputation examples: the RMSE of the
 * average of `draws` imputations, the draws' root mean square spread when
 * draws > 1, the evaluations and the sampler's name. */
void print_model_rmse(double rmse, size_t draws, double spread, unsigned long long nfe,
                      const char *sampler);

#endif
