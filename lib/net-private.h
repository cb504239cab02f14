/* The score network's layout, shared with the loss, trainer and sampler. */
#ifndef SCOREMATCH_NET_PRIVATE_H
#define SCOREMATCH_NET_PRIVATE_H

#include "scorematch/net.h"
#include "blas-private.h"
#include "pool-private.h"

/* One thread's share of a pass: its workspace for up to `cap` rows, its
 * BLIS runtime (one thread), its gradient accumulator, and the job at hand. */
typedef struct {
    size_t cap;
    float *mem;    /* one allocation for the buffers below */
    float *in;     /* cap × (dim+1): x ‖ log σ */
    float *z;      /* depth × cap × width: pre-activations */
    float *h;      /* depth × cap × width: SiLU outputs */
    float *sg;     /* depth × cap × width: sigmoid(z), kept for backward */
    float *g[2];   /* cap × width each: backward scratch */
    float *grads;  /* shards ≥ 1: private gradient sums (nparams) */
    sm__blas *blas; /* NULL: reference loops (tests only) */
    size_t rows;   /* rows held by the last training forward */
    /* The current job. */
    size_t first, count;
    const float *x, *sigma, *dout;
    float sigma1;
    float *out;
} sm__shard;

struct sm_net {
    size_t dim, width, depth; /* d, hidden units, hidden layers */
    size_t nparams;
    float *params, *grads;    /* nparams each; layer l: W_l then b_l */

    size_t threads;           /* shards; rows are split between them */
    sm__shard *shards;
    size_t cap;               /* rows per shard */
    size_t train_rows;        /* rows of the last training forward, 0 if none */
    sm__pool *pool;           /* threads − 1 workers, NULL for one thread */
    int reference;
};

/* Non-zero if a and b have the same dim, width and depth (so parameter
 * buffers of one fit the other). */
static inline int sm__net_same_shape(const sm_net *a, const sm_net *b)
{
    return a->dim == b->dim && a->width == b->width && a->depth == b->depth;
}

/* Switches a network between BLIS and the naive reference product. */
sm_status sm__net_use_reference(sm_net *net, int reference);

/* Parameter count of an architecture into *count. Returns SM_OK,
 * SM_ERR_INVALID_ARG (a zero size) or SM_ERR_OVERFLOW (a size beyond
 * sm_net_new()'s limits, or the count overflows); sets no message. */
sm_status sm__net_param_count(size_t dim, size_t width, size_t depth, size_t *count);

/* A network with the given parameters (sm__net_param_count() floats, copied),
 * zero gradients, one thread and no workspace. Errors name fn. */
sm_status sm__net_new_with_params(sm_net **out, size_t dim, size_t width, size_t depth,
                                  const float *params, const char *fn);

#endif
