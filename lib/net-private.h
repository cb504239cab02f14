/* The score network's layout, shared with the loss, trainer and sampler. */
#ifndef SCOREMATCH_NET_PRIVATE_H
#define SCOREMATCH_NET_PRIVATE_H

#include "scorematch/net.h"
#include "blas-private.h"

struct sm_net {
    size_t dim, width, depth; /* d, hidden units, hidden layers */
    size_t nparams;
    float *params, *grads;    /* nparams each; layer l: W_l then b_l */

    /* Workspace for up to cap rows, one allocation (ws). */
    size_t cap;
    float *ws;
    float *in;     /* cap × (dim+1): x ‖ log σ */
    float *z;      /* depth × cap × width: pre-activations */
    float *h;      /* depth × cap × width: SiLU outputs */
    float *sg;     /* depth × cap × width: sigmoid(z), kept for backward */
    float *g[2];   /* cap × width each: backward scratch */
    size_t train_rows; /* rows held by the last training forward, 0 if none */

    size_t threads;
    sm__blas *blas;    /* NULL: reference loops (tests only) */
};

/* Switches a network between BLIS and the naive reference product. */
sm_status sm__net_use_reference(sm_net *net, int reference);

#endif
