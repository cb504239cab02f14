/* A small persistent thread pool owned by one handle (never global). */
#ifndef SCOREMATCH_POOL_PRIVATE_H
#define SCOREMATCH_POOL_PRIVATE_H

#include <stddef.h>

typedef struct sm__pool sm__pool;

/* Work for one shard. Any shard may run on any thread of the pool or on
 * the calling thread (whichever claims it first), so a shard's work must
 * depend only on the shard number, never on the thread. */
typedef void (*sm__pool_fn)(void *ctx, size_t shard);

/* A pool of `workers` threads (≥ 1); NULL if threads cannot be started. */
sm__pool *sm__pool_new(size_t workers);

/* Runs fn(ctx, s) for s = 0 … shards−1 (1 ≤ shards ≤ 65535) on the calling
 * thread and the workers, or on the calling thread alone while the pool's
 * own pass times say the workers make passes slower (see pool.c), and
 * returns when all are done. Calls must not overlap (a handle is
 * single-threaded). */
void sm__pool_run(sm__pool *p, sm__pool_fn fn, void *ctx, size_t shards);

/* Stops and joins the workers. NULL is accepted. */
void sm__pool_free(sm__pool *p);

#endif
