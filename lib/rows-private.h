/* Parallel passes over rows: split the rows of a batch into contiguous
 * shares, one per thread of a handle's pool, run a job on each share, then
 * add the shares' private gradient sums in share order (so a thread count
 * always gives the same bits). Used by the network's passes (net.c) and by
 * sliced score matching (ssm.c). */
#ifndef SCOREMATCH_ROWS_PRIVATE_H
#define SCOREMATCH_ROWS_PRIVATE_H

#include <stddef.h>

#include "pool-private.h"

/* Below this many rows per share, fewer shares are used: a thread's start-up
 * costs more than it saves on a handful of rows. */
#define SM__MIN_SHARE_ROWS 32

/* A contiguous range of rows. */
typedef struct {
    size_t first, count;
} sm__share;

/* Splits n ≥ 1 rows into contiguous shares of equal size (the last may be
 * smaller), using at most `threads` shares, at least SM__MIN_SHARE_ROWS rows
 * per share where possible, and at most `cap` rows per share (cap ≥ 1,
 * n ≤ cap·threads). Fills share[0 … threads−1] (unused ones get count 0)
 * and returns the number used. */
size_t sm__rows_split(size_t n, size_t threads, size_t cap, sm__share *share);

/* Runs fn(ctx, s) for s = 0 … used−1: on the pool when there is one and more
 * than one share, otherwise in order on the calling thread. */
void sm__rows_run(sm__pool *pool, sm__pool_fn fn, void *ctx, size_t used);

/* Elementwise passes over a flat buffer (optimizer updates, averages, sums
 * of the shares' gradients) split between threads by element slices:
 * below this many elements per thread, waking threads costs more. */
#define SM__MIN_SLICE 4096

/* Slice s of n elements split into `parts`: whole cache lines (16 floats)
 * each, the last one shorter. Sets *first and returns the count (0 for a
 * slice past the end). Each element lands in exactly one slice. */
size_t sm__slice(size_t n, size_t parts, size_t s, size_t *first);

/* dst[i] += src[s][i] for s = 0 … count−1 in that order, i < n. */
void sm__rows_reduce(float *dst, float *const *src, size_t count, size_t n);

#endif
