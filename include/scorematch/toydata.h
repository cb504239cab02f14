/**
 * @file scorematch/toydata.h
 * @brief Two-dimensional (and blob) toy distributions that fill an
 *        ::sm_dataset.
 *
 * Every generator draws from the ::sm_rng it is given and from nothing else,
 * so the same seed gives the same points, in the same order, on every
 * platform. Output is the same geometry and statistics as scikit-learn's
 * `make_moons`, `make_circles`, `make_blobs` and `make_swiss_roll` (and as
 * the FFJORD toy sets for the others), not the same numbers as NumPy's
 * generator.
 *
 * Common conventions:
 * - `noise` is the standard deviation of isotropic Gaussian noise added to
 *   every coordinate after the noise-free point is placed (and after
 *   shuffling, as in scikit-learn). It must be finite and >= 0; 0 gives the
 *   exact noise-free geometry.
 * - Every generator attaches one label per point (sm_dataset_labels()):
 *   which moon, circle, blob, arm or square the point came from, numbered
 *   from 0 as documented per function, so that per-mode coverage
 *   (sm_metric_per_mode_coverage()) can show a dropped mode.
 * - Generators with a fixed number of points per part split @p n like
 *   scikit-learn: two parts get `n / 2` (rounded down) for part 0 and the
 *   rest for part 1; k parts get `n / k` each and the first `n % k` parts
 *   one more. Unshuffled, the points come part by part in label order.
 * - `shuffle` non-zero permutes the points (labels with them) by a
 *   Fisher–Yates shuffle drawn from @p rng; scikit-learn's default is on.
 * - On failure `*out` is set to NULL and the status says why:
 *   #SM_ERR_INVALID_ARG for a NULL pointer, `n == 0` or a parameter out of
 *   range (the message names it), #SM_ERR_OVERFLOW or #SM_ERR_NOMEM.
 * - Values are computed in double and stored as float.
 */
#ifndef SCOREMATCH_TOYDATA_H
#define SCOREMATCH_TOYDATA_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/rng.h"
#include "scorematch/dataset.h"

SM_BEGIN_DECLS

/** @brief scikit-learn's default `factor` for sm_toy_circles(). */
#define SM_TOY_CIRCLES_FACTOR_DEFAULT 0.8

/**
 * @brief Two interleaving half circles (scikit-learn `make_moons`).
 *
 * Part 0 (label 0, the outer moon), `n / 2` points: (cos t, sin t) for t
 * evenly spaced over [0, π] including both ends. Part 1 (label 1, the inner
 * moon), `n − n / 2` points: (1 − cos t, 0.5 − sin t), t likewise. A part
 * with one point has t = 0.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param noise     Standard deviation of the Gaussian noise, >= 0.
 * @param shuffle   Non-zero to shuffle the points.
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_moons(sm_dataset **out, size_t n, double noise, int shuffle,
                              sm_rng *rng);

/**
 * @brief A large circle containing a smaller one (scikit-learn
 *        `make_circles`).
 *
 * Part 0 (label 0, outer circle), `n / 2` points: (cos t, sin t) for t
 * evenly spaced over [0, 2π) without the end point. Part 1 (label 1, inner
 * circle), `n − n / 2` points: factor·(cos t, sin t), t likewise.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param noise     Standard deviation of the Gaussian noise, >= 0.
 * @param factor    Inner radius over outer radius, in the open interval
 *                  (0, 1); scikit-learn's default is
 *                  #SM_TOY_CIRCLES_FACTOR_DEFAULT (0.8).
 * @param shuffle   Non-zero to shuffle the points.
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_circles(sm_dataset **out, size_t n, double noise, double factor,
                                int shuffle, sm_rng *rng);

/**
 * @brief Isotropic Gaussian blobs (scikit-learn `make_blobs`).
 *
 * Blob c (label c) gets `n / n_centers` points, the first `n % n_centers`
 * blobs one more, each drawn from N(center_c, cluster_std² I). With
 * @p centers NULL, the centres are first drawn uniformly in the box
 * [−10, 10]^dim (scikit-learn's `center_box`), centre by centre; for another
 * box draw them with sm_rng_fill_uniform() and pass them in.
 *
 * @param[out] out    Receives the n × dim data set; NULL on failure.
 * @param n           Number of points, > 0.
 * @param dim         Dimension, > 0.
 * @param centers     n_centers × dim row-major finite centres, or NULL for
 *                    random centres.
 * @param n_centers   Number of blobs, > 0.
 * @param cluster_std Standard deviation of every blob, >= 0.
 * @param shuffle     Non-zero to shuffle the points.
 * @param rng         Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (also for a non-finite centre),
 *         #SM_ERR_OVERFLOW, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_blobs(sm_dataset **out, size_t n, size_t dim, const float *centers,
                              size_t n_centers, double cluster_std, int shuffle,
                              sm_rng *rng);

/**
 * @brief A Gaussian mixture with given weights: each point independently
 *        picks component c with probability weights[c] / Σ weights and is
 *        drawn from N(means_c, stds[c]² I).
 *
 * Unlike sm_toy_blobs() the number of points per component is random
 * (multinomial), which is what sampling a mixture means. The label is the
 * component. The points are in draw order, already random.
 *
 * @param[out] out    Receives the n × dim data set; NULL on failure.
 * @param n           Number of points, > 0.
 * @param dim         Dimension, > 0.
 * @param means       n_components × dim row-major finite means.
 * @param stds        n_components standard deviations >= 0, or NULL for 1.
 * @param weights     n_components finite weights >= 0 with a positive sum,
 *                    or NULL for equal weights.
 * @param n_components Number of components, > 0.
 * @param rng         Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_gaussian_mixture(sm_dataset **out, size_t n, size_t dim,
                                         const float *means, const double *stds,
                                         const double *weights, size_t n_components,
                                         sm_rng *rng);

/**
 * @brief The two-dimensional swiss roll: scikit-learn `make_swiss_roll`
 *        without its height coordinate.
 *
 * t = 1.5π(1 + 2u) with u uniform in [0, 1), point (t cos t, t sin t) — the
 * (x, z) columns of scikit-learn's 3-D roll — plus noise. The distance of a
 * noise-free point from the origin is t. One mode: every label is 0.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param noise     Standard deviation of the Gaussian noise, >= 0.
 * @param t_out     Optional (may be NULL): receives the n roll parameters t,
 *                  in the order of the points (scikit-learn's second
 *                  return value, useful for colouring).
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_swiss_roll(sm_dataset **out, size_t n, double noise, float *t_out,
                                   sm_rng *rng);

/**
 * @brief Two interleaved spirals (the FFJORD "2spirals" set, without its
 *        uniform jitter).
 *
 * t = 3π·√u with u uniform in [0, 1) (so points are spread evenly along the
 * arc). Arm 0 (label 0), `n / 2` points: (−t cos t, t sin t) / 3; arm 1
 * (label 1), `n − n / 2` points: the same curve rotated by π,
 * (t cos t, −t sin t) / 3. Each arm makes 1.5 turns out to radius π.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param noise     Standard deviation of the Gaussian noise, >= 0 (FFJORD
 *                  uses 0.1 on this scale).
 * @param shuffle   Non-zero to shuffle the points.
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_spirals(sm_dataset **out, size_t n, double noise, int shuffle,
                                sm_rng *rng);

/**
 * @brief A checkerboard: uniform on the 8 black squares of a 4 × 4 board
 *        covering [−4, 4)² (the FFJORD "checkerboard" set).
 *
 * The board has squares of side 2; square (i, j), i = column and j = row,
 * each from 0 to 3, covers [2i − 4, 2i − 2) × [2j − 4, 2j − 2) and is
 * occupied when i + j is even. Label `2i + j / 2` (0 … 7) numbers the
 * occupied squares column by column. The 8 squares share @p n as blobs do;
 * within a square points are uniform.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param shuffle   Non-zero to shuffle the points.
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_checkerboard(sm_dataset **out, size_t n, int shuffle, sm_rng *rng);

/**
 * @brief Eight Gaussians evenly spaced on a circle.
 *
 * Mode c (label c, 0 … 7) is N(radius·(cos 2πc/8, sin 2πc/8), std² I); the
 * modes share @p n as blobs do. FFJORD's "8gaussians" is radius 2√2 ≈ 2.828
 * and std 0.5/√2 ≈ 0.354; the unrolled-GAN benchmark is radius 2, std 0.02.
 *
 * @param[out] out  Receives the n × 2 data set; NULL on failure.
 * @param n         Number of points, > 0.
 * @param radius    Radius of the ring, finite and > 0.
 * @param std       Standard deviation of each mode, >= 0.
 * @param shuffle   Non-zero to shuffle the points.
 * @param rng       Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_eight_gaussians(sm_dataset **out, size_t n, double radius,
                                        double std, int shuffle, sm_rng *rng);

/**
 * @brief A pinwheel of curved arms (Johnson et al. 2016; the FFJORD
 *        "pinwheel" set).
 *
 * Arm c (label c) gets its share of @p n as blobs do. For each point draw
 * f = (1 + radial_std·z₁, tangential_std·z₂) with z standard normal, the
 * angle a = 2πc/n_arms + rate·exp(f₀), and output
 * 2·(f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a), i.e. f rotated by −a and
 * scaled by 2. FFJORD's values: 5 arms, radial_std 0.3, tangential_std 0.1,
 * rate 0.25.
 *
 * @param[out] out       Receives the n × 2 data set; NULL on failure.
 * @param n              Number of points, > 0.
 * @param n_arms         Number of arms, > 0.
 * @param radial_std     Spread along an arm, >= 0.
 * @param tangential_std Spread across an arm, >= 0.
 * @param rate           How fast the arms curl (finite).
 * @param shuffle        Non-zero to shuffle the points.
 * @param rng            Random number generator.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_toy_pinwheel(sm_dataset **out, size_t n, size_t n_arms,
                                 double radial_std, double tangential_std, double rate,
                                 int shuffle, sm_rng *rng);

SM_END_DECLS

#endif /* SCOREMATCH_TOYDATA_H */
