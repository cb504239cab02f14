/* The nearest-neighbour metrics with the search method chosen by the caller
 * (tests and bench/bench-metrics compare the k-d tree with the brute force;
 * the public functions pass SM__KNN_AUTO). Not installed. Same arguments,
 * results and errors as the public functions of scorematch/metrics.h;
 * fn names the public function in messages. */
#ifndef SCOREMATCH_METRICS_PRIVATE_H
#define SCOREMATCH_METRICS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "knn-private.h"
#include "scorematch/error.h"

sm_status sm__metric_coverage_precision_with(sm__knn_method method, const char *fn,
                                             const float *real, size_t n_real,
                                             const float *gen, size_t n_gen, size_t dim,
                                             double radius, double *out_coverage,
                                             double *out_precision, size_t *out_nonfinite);

sm_status sm__metric_per_mode_coverage_with(sm__knn_method method, const float *real,
                                            const int32_t *labels, size_t n_real,
                                            const float *gen, size_t n_gen, size_t dim,
                                            double radius, double *out_per_mode,
                                            size_t n_modes, size_t *out_nonfinite);

sm_status sm__metric_prdc_with(sm__knn_method method, const float *real, size_t n_real,
                               const float *gen, size_t n_gen, size_t dim, size_t k_pr,
                               size_t k_dc, double *out_precision, double *out_recall,
                               double *out_density, double *out_coverage,
                               size_t *out_nonfinite);

#endif
