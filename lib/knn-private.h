/* Exact nearest-neighbour queries between the real and the generated points
 * of a metric: through a k-d tree in low dimension, by blocked brute force
 * in high dimension, where a k-d tree prunes almost nothing and degrades to
 * a scan with overhead. Not installed.
 *
 * Both methods decide every comparison on sm__sqdist() (kdtree-private.h),
 * the squared distance in double from the caller's float coordinates, so
 * they give identical results, ties included. The brute-force method forms
 * the distances of a block of queries to a block of points at once as
 * ‖a‖² + ‖b‖² − 2 a·b, the products a·b by BLIS sgemm on coordinates
 * shifted by the real points' mean. A bound on that estimate's rounding
 * error (see knn.c) settles almost every comparison; a pair whose estimate
 * lies within the bound of its threshold is recomputed with sm__sqdist().
 * Memory: each set's shifted float copy and one block of KNN_QB × KNN_PB
 * products (1 MB), whatever the sizes.
 *
 * Points are addressed by position (0 <= pos < size) in each set's own
 * order; radii arrays follow the order of the set they belong to.
 * Functions that fail leave a message naming fn (given at creation). */
#ifndef SCOREMATCH_KNN_PRIVATE_H
#define SCOREMATCH_KNN_PRIVATE_H

#include <stddef.h>

#include "scorematch/error.h"

/* How the sets of one comparison are searched. */
typedef enum sm__knn_method {
    SM__KNN_AUTO = 0, /* the tree below SM__KNN_BRUTE_MIN_DIM, brute force from it */
    SM__KNN_TREE,
    SM__KNN_BRUTE
} sm__knn_method;

/* The dimension from which SM__KNN_AUTO uses brute force, chosen by
 * measurement with bench/bench-metrics: tree time / brute-force time of
 * sm_metric_prdc() (all four outputs), 2000 real against 2000 generated
 * points, one thread, on the development machine (2-core AMD EPYC, shared
 * with other jobs while measuring), with BLIS's AVX-512 ("skx") kernels and
 * with its generic ones (what BLIS 0.9 runs on CPUs it does not know):
 *
 *     d                              2     8    12    16    32    64
 *     gauss, skx                  0.15   7.2  12.6  18.5  29.6  36.7
 *     gauss, generic              0.12   3.1   6.7   9.3  12.9  14.6
 *     moons in d dims, skx        0.19  0.48  0.67  0.96  1.75   3.0
 *     moons in d dims, generic    0.11  0.27  0.35  0.32  1.04  1.06
 *     8×8 digits (898 vs 899)                                17.5 / 8.2
 *
 * "gauss": N(0, I) against N(0.3, 1.2² I), a tree's worst case; "moons": a
 * 2-D set rotated into d dimensions, where a tree keeps pruning. From 16 on
 * the brute force wins 9–37 times on full-dimensional data and loses at
 * most 3 times (generic kernels) on the 2-D set; at 8–12 it would lose 2–4
 * times there. With 10⁴ against 10⁴ points (skx) the ratios at d = 16 are
 * 24 (gauss: 30 s against 1.2 s) and 0.76 (moons: 0.60 s against 0.79 s):
 * the tree's advantage on low-dimensional sets grows with N, but slowly. */
#define SM__KNN_BRUTE_MIN_DIM 16

/* Above this dimension the float error bound would be loose; such sets use
 * the tree whatever the method asked for. */
#define SM__KNN_BRUTE_MAX_DIM 65536

typedef struct sm__knn sm__knn;

/* Prepares the n_real real points (all finite) and the finite rows of the
 * n_gen generated points (non-finite rows are left out) with one method.
 * index_real / index_gen: whether that set will be searched (a tree is
 * built); a set that is only a source of queries needs none. Brute force
 * falls back to the tree when the coordinates are so large (|x − mean|²·dim
 * above 2^100) that float products could overflow, or dim exceeds
 * SM__KNN_BRUTE_MAX_DIM: results are exact either way. The caller's arrays
 * are borrowed: they must outlive the sets. *real_out and *gen_out are NULL
 * on failure (SM_ERR_NOMEM, SM_ERR_OVERFLOW). */
sm_status sm__knn_pair_new(sm__knn **real_out, sm__knn **gen_out, const float *real,
                           size_t n_real, const float *gen, size_t n_gen, size_t dim,
                           sm__knn_method method, int index_real, int index_gen,
                           const char *fn);
void sm__knn_free(sm__knn *s);

/* The method the set uses (SM__KNN_TREE or SM__KNN_BRUTE), its number of
 * points, and the caller's row index of point pos. */
sm__knn_method sm__knn_method_used(const sm__knn *s);
size_t sm__knn_size(const sm__knn *s);
size_t sm__knn_index(const sm__knn *s, size_t pos);

/* r2[pos] = squared distance from point pos of s (indexed) to its k-th
 * nearest other point of s, i.e. the (k+1)-th nearest including itself
 * (duplicates count, at distance 0); likewise r2b for kb when r2b is not
 * NULL. Requires size > max(k, kb). */
sm_status sm__knn_radii(const sm__knn *s, size_t k, double *r2, size_t kb, double *r2b);

/* *count = number of points of q that have a point of p (indexed) at
 * squared distance strictly below r2_each[qpos], or below r2 when r2_each
 * is NULL; hit[qpos] (optional) receives 1 or 0 for each. */
sm_status sm__knn_count_within(const sm__knn *p, const sm__knn *q, double r2,
                               const double *r2_each, size_t *count, unsigned char *hit);

/* *count = Σ over the points of q of min(limit, number of points i of p
 * (indexed) whose ball holds it: sqdist < r2p[i] if strict, <= otherwise).
 * limit 1 counts the points of q that lie in some ball. */
sm_status sm__knn_count_in_balls(sm__knn *p, const double *r2p, const sm__knn *q, int strict,
                                 size_t limit, size_t *count);

#endif
