/* A k-d tree over float points for the nearest-neighbour metrics, and the
 * brute-force scans the tests use as its reference. Not installed.
 *
 * Distances are squared Euclidean distances computed in double by
 * sm__sqdist(), in coordinate order, by the tree and the brute-force path
 * alike: both give bit-identical distances, so their results can be compared
 * exactly, ties included.
 *
 * Rows with a NaN or infinite coordinate are never stored in a tree and are
 * skipped by the brute-force scans: they match nothing.
 *
 * This file does not set the library's last-error message (kdtree.c does not
 * depend on the rest of the library, so tests can compile it in); callers
 * turn the returned status into a message. */
#ifndef SCOREMATCH_KDTREE_PRIVATE_H
#define SCOREMATCH_KDTREE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "scorematch/error.h"

typedef struct sm_kdtree sm_kdtree;

/* Squared distance between two dim-vectors, in double, summed in index
 * order. The difference of two floats is formed in double. */
static inline double sm__sqdist(const float *a, const float *b, size_t dim)
{
    double s = 0.0;
    for (size_t j = 0; j < dim; j++) {
        double t = (double)a[j] - (double)b[j];
        s += t * t;
    }
    return s;
}

/* A max-heap of (d2, idx) of fixed capacity: the k smallest distances
 * offered so far, the largest of them at d2[0] once the heap is full. Used
 * by the tree's and the brute-force k-nearest-neighbour searches. */
typedef struct sm__heap {
    double *d2;
    size_t *idx; /* optional */
    size_t size, cap;
} sm__heap;

/* Exchanges entries a and b (distance and, if kept, index). */
static inline void sm__heap_swap(sm__heap *h, size_t a, size_t b)
{
    double td = h->d2[a];
    h->d2[a] = h->d2[b];
    h->d2[b] = td;
    if (h->idx) {
        size_t ti = h->idx[a];
        h->idx[a] = h->idx[b];
        h->idx[b] = ti;
    }
}

static inline void sm__heap_sift_down(sm__heap *h, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->d2[c + 1] > h->d2[c])
            c++;
        if (!(h->d2[c] > h->d2[i]))
            break;
        sm__heap_swap(h, i, c);
        i = c;
    }
}

static inline void sm__heap_offer(sm__heap *h, double d2, size_t idx)
{
    if (h->size < h->cap) {
        size_t i = h->size++;
        h->d2[i] = d2;
        if (h->idx)
            h->idx[i] = idx;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!(h->d2[i] > h->d2[p]))
                break;
            sm__heap_swap(h, i, p);
            i = p;
        }
    } else if (d2 < h->d2[0]) {
        h->d2[0] = d2;
        if (h->idx)
            h->idx[0] = idx;
        sm__heap_sift_down(h, 0, h->size);
    }
}

/* Sorts the heap's contents into ascending order, in place. */
static inline void sm__heap_sort(sm__heap *h)
{
    for (size_t e = h->size; e-- > 1;) {
        sm__heap_swap(h, 0, e);
        sm__heap_sift_down(h, 0, e);
    }
}

/* 1 if all dim values of row are finite. */
int sm__row_finite(const float *row, size_t dim);

/* Builds a tree over the finite rows of pts (n × dim, row-major; the points
 * are copied, pts may be freed afterwards). *n_skipped (optional) receives
 * the number of rows left out because they hold a non-finite value. A tree
 * may be empty (n = 0 or every row skipped): it then matches nothing.
 * Returns SM_OK, SM_ERR_INVALID_ARG (NULL, dim 0), SM_ERR_OVERFLOW or
 * SM_ERR_NOMEM; *out is NULL on failure. O(n log n) time, O(n) memory;
 * the build is iterative. */
sm_status sm__kdtree_build(sm_kdtree **out, const float *pts, size_t n, size_t dim,
                           size_t *n_skipped);
void sm__kdtree_free(sm_kdtree *t);

/* Number of stored points, and stored point number pos (0 <= pos < size)
 * in the tree's internal order, with its row index in the original array. */
size_t sm__kdtree_size(const sm_kdtree *t);
const float *sm__kdtree_point(const sm_kdtree *t, size_t pos);
size_t sm__kdtree_index(const sm_kdtree *t, size_t pos);

/* 1 if some stored point p has sqdist(q, p) < r2 (strictly), else 0. */
int sm__kdtree_any_within(const sm_kdtree *t, const float *q, double r2);

/* The min(k, size) nearest stored points of q: squared distances in
 * ascending order into d2[], their original row indices into idx[]
 * (optional; among equal distances which index is reported is unspecified).
 * Returns the number found. d2 must hold k values. */
size_t sm__kdtree_knn(const sm_kdtree *t, const float *q, size_t k, double *d2,
                      size_t *idx);

/* Attaches one squared radius per stored point, r2[pos] in internal order
 * (the array is borrowed: it must outlive its use by the tree), for
 * sm__kdtree_count_in_balls(). NULL detaches. */
void sm__kdtree_set_radii(sm_kdtree *t, const double *r2);

/* Number of stored points p_i whose ball contains q: sqdist(q, p_i) < r2[i]
 * if strict, <= r2[i] otherwise. Stops counting at limit (limit 1 answers
 * "is q in any ball"). Returns 0 if no radii are attached. */
size_t sm__kdtree_count_in_balls(const sm_kdtree *t, const float *q, int strict,
                                 size_t limit);

/* Brute-force references over a raw n × dim array, O(n) per query, same
 * semantics as the tree functions above (non-finite rows skipped). For the
 * ball count, r2[i] belongs to row i. */
int sm__brute_any_within(const float *pts, size_t n, size_t dim, const float *q, double r2);
size_t sm__brute_knn(const float *pts, size_t n, size_t dim, const float *q, size_t k,
                     double *d2, size_t *idx);
size_t sm__brute_count_in_balls(const float *pts, size_t n, size_t dim, const double *r2,
                                const float *q, int strict, size_t limit);

#endif
