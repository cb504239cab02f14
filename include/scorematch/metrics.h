/**
 * @file scorematch/metrics.h
 * @brief How well a generated point set matches a real one: nearest-neighbour
 *        coverage and precision, improved precision/recall, density/coverage,
 *        energy distance, MMD and the Fréchet distance.
 *
 * Every metric compares a real set X of @p n_real points with a generated
 * set Y of @p n_gen points, both row-major `float` arrays of dimension
 * @p dim (any dimension), so no ::sm_dataset is needed: pass
 * sm_dataset_data() for one.
 *
 * **Distances.** Euclidean distances are compared through their squares,
 * computed in double from the float coordinates. Radii are compared with
 * the inequality each metric's published definition uses, stated per
 * function.
 *
 * **Speed.** Below 16 dimensions the nearest-neighbour metrics (coverage,
 * precision, per-mode coverage, sm_metric_prdc()) use a k-d tree: building
 * is O(N log N), each query about O(log N) for low-dimensional data, so
 * 10⁶ real against 10⁶ generated 2-D points take seconds, not the hours of
 * an O(N·M) scan. In higher dimension a k-d tree prunes little and degrades
 * towards a scan, so from d = 16 on they use a blocked brute force instead:
 * the squared distances of blocks of 256 × 1024 points at once as
 * ‖a‖² + ‖b‖² − 2 a·b, the products by BLIS (one thread) on coordinates
 * centred at the real points' mean, in O(N·M·d) time and about 1 MB of
 * memory beyond a copy of the points. A rigorous bound on the rounding of
 * that float estimate decides each comparison or, for the few pairs near a
 * radius, sends it to the exact double computation the tree uses, so both
 * methods give the same values, ties included. (Coordinates so far from the
 * mean that float products could overflow, |x − mean| above 2⁵⁰/√d, about
 * 10¹⁴, keep the tree.)
 * Measured with bench/bench-metrics (sm_metric_prdc(), 2000 real against
 * 2000 generated points, tree time divided by brute-force time, BLIS's
 * AVX-512 kernels; its generic kernels, which BLIS 0.9 picks on CPUs it
 * does not know, roughly halve the brute force's advantage):
 *
 * | d                          |   2  |   8  |  12  |  16  |  32  |  64  |
 * |----------------------------|------|------|------|------|------|------|
 * | Gaussian, full-dimensional | 0.15 | 7.2  | 12.6 | 18.5 | 29.6 | 36.7 |
 * | two moons placed in d dims | 0.19 | 0.48 | 0.67 | 0.96 | 1.75 | 3.0  |
 *
 * and 17 on the 8×8 digits (d = 64, 898 against 899 images). Points near a
 * low-dimensional set keep a tree efficient longer, and at large N its
 * O(N log N) growth outpaces the brute force's N·M: with 10⁴ against 10⁴
 * points in 16 dimensions the tree takes 0.60 s on the two moons and 30 s
 * on the Gaussian data, the brute force 0.79 s and 1.2 s.
 *
 * Energy distance and MMD are sums over all pairs, O((N + M)²·d); they take
 * a @p max_points cap that subsamples larger sets. The Fréchet distance
 * only needs the two sets' means and covariances, O((N + M)·d² + d³), and
 * suits high dimension (64-pixel digits, a few hundred features) at any N.
 *
 * **Non-finite generated points.** A sampler that diverged produces NaN or
 * infinite coordinates. Such generated points (any coordinate non-finite)
 * are never dropped silently: each metric counts them into the optional
 * @p out_nonfinite, and they
 * - cover no real point (coverage, recall, per-mode coverage),
 * - count as not precise: they stay in the denominator of precision and
 *   density, so 10 % NaN samples cap precision at 0.9,
 * - are left out of the sums of energy distance and MMD and of the
 *   Fréchet distance's Gaussian fit, which are computed over the finite
 *   generated points only (check @p out_nonfinite).
 *
 * Real points must all be finite (#SM_ERR_NONFINITE otherwise, naming the
 * row and column).
 *
 * **Errors.** #SM_ERR_INVALID_ARG for a NULL array or output, zero sizes or
 * a bad parameter (the message names it); #SM_ERR_NONFINITE for a
 * non-finite real point, or when a metric needs more finite generated
 * points than there are; #SM_ERR_OVERFLOW; #SM_ERR_NOMEM;
 * #SM_ERR_DIVERGED if LAPACK's eigensolver fails (Fréchet distance). On
 * failure the outputs are left unchanged.
 *
 * The functions keep no state and may be called from several threads at
 * once.
 */
#ifndef SCOREMATCH_METRICS_H
#define SCOREMATCH_METRICS_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/rng.h"

SM_BEGIN_DECLS

/** @brief Default k of improved precision and recall (Kynkäänniemi et al.). */
#define SM_METRIC_K_PR_DEFAULT 3
/** @brief Default k of density and coverage (Naeem et al.). */
#define SM_METRIC_K_DC_DEFAULT 5

/**
 * @brief Coverage, the lab's recall proxy: the fraction of real points that
 *        have a generated point at distance strictly less than @p radius.
 *
 * This is the lab's `(dist < r).mean()` with `dist` the distance from each
 * real point to its nearest generated point.
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points.
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param radius        Finite, > 0 (the lab uses 0.15 on standardized data).
 * @param[out] out_coverage  Receives the fraction in [0, 1].
 * @param[out] out_nonfinite Optional: receives the number of generated
 *                      points with a non-finite coordinate.
 * @return #SM_OK or an error (see the file description).
 */
SM_API sm_status sm_metric_coverage(const float *real, size_t n_real, const float *gen,
                                    size_t n_gen, size_t dim, double radius,
                                    double *out_coverage, size_t *out_nonfinite);

/**
 * @brief Precision: the fraction of generated points that have a real point
 *        at distance strictly less than @p radius. Non-finite generated
 *        points count as not precise.
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points.
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param radius        Finite, > 0.
 * @param[out] out_precision Receives the fraction in [0, 1].
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description).
 */
SM_API sm_status sm_metric_precision(const float *real, size_t n_real, const float *gen,
                                     size_t n_gen, size_t dim, double radius,
                                     double *out_precision, size_t *out_nonfinite);

/**
 * @brief sm_metric_coverage() and sm_metric_precision() in one call (the
 *        pair that shows the quality/coverage trade).
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points.
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param radius        Finite, > 0.
 * @param[out] out_coverage  Receives the coverage (may be NULL if
 *                      @p out_precision is not).
 * @param[out] out_precision Receives the precision (may be NULL if
 *                      @p out_coverage is not).
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description).
 */
SM_API sm_status sm_metric_coverage_precision(const float *real, size_t n_real,
                                              const float *gen, size_t n_gen, size_t dim,
                                              double radius, double *out_coverage,
                                              double *out_precision,
                                              size_t *out_nonfinite);

/**
 * @brief Coverage of each mode: for every label value c, the fraction of the
 *        real points labelled c that have a generated point at distance
 *        strictly less than @p radius.
 *
 * A dropped mode shows as a value near 0 for its label. Use
 * sm_dataset_labels() and sm_dataset_num_labels() of a toy data set.
 *
 * @param real          n_real × dim finite points.
 * @param labels        n_real labels, each in [0, n_modes).
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points.
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param radius        Finite, > 0.
 * @param[out] out_per_mode Receives n_modes fractions; a label value with
 *                      no real point gets NaN (0/0).
 * @param n_modes       Length of @p out_per_mode, > 0.
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error; #SM_ERR_INVALID_ARG names a label out of
 *         range.
 */
SM_API sm_status sm_metric_per_mode_coverage(const float *real, const int32_t *labels,
                                             size_t n_real, const float *gen, size_t n_gen,
                                             size_t dim, double radius,
                                             double *out_per_mode, size_t n_modes,
                                             size_t *out_nonfinite);

/**
 * @brief Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019)
 *        and density and coverage (Naeem et al., ICML 2020).
 *
 * NND_k(p) is the distance from p to its k-th nearest neighbour in its own
 * set, p itself excluded (duplicates of p count as neighbours at distance
 * 0). For the generated set only finite points form the set.
 * - precision = (1/M) · #{ j : ‖y_j − x_i‖ ≤ NND_{k_pr}(x_i) for some i }
 * - recall    = (1/N) · #{ i : ‖x_i − y_j‖ ≤ NND_{k_pr}(y_j) for some finite j }
 * - density   = 1/(k_dc·M) · Σ_j #{ i : ‖y_j − x_i‖ < NND_{k_dc}(x_i) }
 * - coverage  = (1/N) · #{ i : min_j ‖x_i − y_j‖ < NND_{k_dc}(x_i) }
 *
 * with N = n_real and M = n_gen (non-finite generated points included in M:
 * they are neither precise nor dense). The inequalities are those of the
 * authors' reference code: `<=` in Kynkäänniemi et al.'s, `<` in Naeem et
 * al.'s `prdc`. Precision, recall and coverage lie in [0, 1]; density can
 * exceed 1 (it is about 1 when the sets match).
 *
 * Any output may be NULL; only the parts needed for the requested outputs
 * are computed (recall alone builds the generated set's radii, the other
 * three the real set's).
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points; must exceed the k of every
 *                      requested output.
 * @param gen           n_gen × dim generated points.
 * @param n_gen         Number of generated points, > 0; recall needs more
 *                      than k_pr finite ones (#SM_ERR_NONFINITE if
 *                      non-finite points leave too few).
 * @param dim           Dimension, > 0.
 * @param k_pr          k of precision and recall; 0 selects
 *                      #SM_METRIC_K_PR_DEFAULT (3).
 * @param k_dc          k of density and coverage; 0 selects
 *                      #SM_METRIC_K_DC_DEFAULT (5).
 * @param[out] out_precision Improved precision, or NULL.
 * @param[out] out_recall    Improved recall, or NULL.
 * @param[out] out_density   Density, or NULL.
 * @param[out] out_coverage  Coverage (Naeem et al.), or NULL.
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description).
 */
SM_API sm_status sm_metric_prdc(const float *real, size_t n_real, const float *gen,
                                size_t n_gen, size_t dim, size_t k_pr, size_t k_dc,
                                double *out_precision, double *out_recall,
                                double *out_density, double *out_coverage,
                                size_t *out_nonfinite);

/**
 * @brief Energy distance (Székely & Rizzo):
 *        E = 2·E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖.
 *
 * Computed as the V-statistic over all pairs (means over all N·M, N² and M²
 * ordered pairs, the zero self-pairs included), which is never negative;
 * it is 0 when the two sets are equal as multisets. This is the squared
 * form; `scipy.stats.energy_distance` (1-D) returns its square root.
 * Exact cost O((N² + N·M + M²)·d).
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points (only finite ones are
 *                      used; at least one must be finite).
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param max_points    0 for the exact statistic over all points; otherwise a
 *                      set with more points than this (the generated set
 *                      counted after removing non-finite points) is replaced
 *                      by a uniform subsample of max_points points drawn
 *                      without replacement from @p rng.
 * @param rng           Generator for the subsample; may be NULL when no
 *                      subsampling happens.
 * @param[out] out_energy    Receives E.
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description); #SM_ERR_INVALID_ARG
 *         if a subsample is needed and @p rng is NULL.
 */
SM_API sm_status sm_metric_energy_distance(const float *real, size_t n_real,
                                           const float *gen, size_t n_gen, size_t dim,
                                           size_t max_points, sm_rng *rng,
                                           double *out_energy, size_t *out_nonfinite);

/**
 * @brief Squared maximum mean discrepancy with the Gaussian (RBF) kernel
 *        k(a, b) = exp(−‖a − b‖² / (2h²)).
 *
 * MMD² = mean k(x, x') + mean k(y, y') − 2·mean k(x, y), the biased
 * V-statistic over all ordered pairs (self-pairs included; never negative up
 * to rounding, and clamped at 0). Exact cost O((N + M)²·d).
 *
 * With @p bandwidth <= 0 the median heuristic chooses h: the median of the
 * distances ‖z_a − z_b‖ over all pairs a < b of the pooled set Z = X ∪ Y
 * (after subsampling; real points first), using at most 1024 points of Z
 * taken at even strides. If that median is 0, h = 1.
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, > 0.
 * @param gen           n_gen × dim generated points (only finite ones are
 *                      used; at least one must be finite).
 * @param n_gen         Number of generated points, > 0.
 * @param dim           Dimension, > 0.
 * @param bandwidth     h > 0, or <= 0 for the median heuristic; not NaN or
 *                      infinite.
 * @param max_points    As in sm_metric_energy_distance().
 * @param rng           As in sm_metric_energy_distance().
 * @param[out] out_mmd2      Receives MMD².
 * @param[out] out_bandwidth Optional: receives the h used.
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description).
 */
SM_API sm_status sm_metric_mmd_rbf(const float *real, size_t n_real, const float *gen,
                                   size_t n_gen, size_t dim, double bandwidth,
                                   size_t max_points, sm_rng *rng, double *out_mmd2,
                                   double *out_bandwidth, size_t *out_nonfinite);

/**
 * @brief Fréchet distance between Gaussian fits of the two sets (the
 *        formula of the FID, here on the points themselves):
 *        FD = ‖μ₁ − μ₂‖² + tr(C₁ + C₂ − 2 (C₁^½ C₂ C₁^½)^½).
 *
 * μ₁, C₁ are the mean and covariance of the real points, μ₂, C₂ those of
 * the finite generated points. Covariances use the unbiased normalisation
 * 1/(n − 1). Everything is computed in double from the float coordinates:
 * the means, then the covariances from the centred points. The square roots
 * are those of symmetric positive semi-definite matrices, taken through
 * their eigendecompositions (LAPACK `dsyevd`): with C₁ = V Λ Vᵀ and
 * U = V Λ^½, the trace of (C₁^½ C₂ C₁^½)^½ is the sum of the square roots
 * of the eigenvalues of Uᵀ C₂ U (the same matrix up to the rotation V).
 * Eigenvalues that come out negative, from rounding or because a covariance
 * is singular (fewer points than dimensions, a constant coordinate), are
 * taken as 0; a result below 0 from rounding is returned as 0. FD is
 * symmetric in the two sets, 0 for two sets with the same mean and
 * covariance, and translating one set by v changes the means' term only
 * (FD(X, X + v) = ‖v‖²).
 *
 * Cost O((N + M)·d² + d³) time and O(d²) memory; the eigensolver limits
 * @p dim to 32766.
 *
 * @param real          n_real × dim finite points.
 * @param n_real        Number of real points, >= 2.
 * @param gen           n_gen × dim generated points (only finite ones are
 *                      used; at least two must be finite).
 * @param n_gen         Number of generated points, >= 2.
 * @param dim           Dimension, > 0 and <= 32766.
 * @param[out] out_fd        Receives FD (squared units of the data).
 * @param[out] out_nonfinite Optional: number of non-finite generated points.
 * @return #SM_OK or an error (see the file description): #SM_ERR_INVALID_ARG
 *         also for fewer than 2 points in a set; #SM_ERR_NONFINITE if fewer
 *         than 2 generated points are finite; #SM_ERR_OVERFLOW for
 *         @p dim > 32766; #SM_ERR_DIVERGED if the eigensolver does not
 *         converge (not seen with finite input).
 */
SM_API sm_status sm_metric_frechet_distance(const float *real, size_t n_real,
                                            const float *gen, size_t n_gen, size_t dim,
                                            double *out_fd, size_t *out_nonfinite);

SM_END_DECLS

#endif /* SCOREMATCH_METRICS_H */
