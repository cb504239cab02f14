/* Denoising score matching core, shared by sm_dsm_loss(),
 * sm_dsm_loss_per_level() and the trainer. */
#ifndef SCOREMATCH_DSM_PRIVATE_H
#define SCOREMATCH_DSM_PRIVATE_H

#include "scoremodel-private.h"

/* Scratch rows for one DSM evaluation: noisy input, output, output gradient
 * (n × dim each). */
typedef struct {
    float *xt, *out, *dout;
} sm__dsm_scratch;

/* The loss of scorematch/losses.h for n checked rows with their contexts
 * (cond NULL: the null context); with with_grad (n ≤ the network's reserved
 * rows) its gradient is added to the network's, only when the loss is
 * finite. Errors name fn. */
sm_status sm__dsm_core(sm_net *net, const float *x, const float *sigma, const sm__cond *cond,
                       const float *eps, size_t n, size_t dim, int with_grad, double *loss,
                       sm__dsm_scratch *s, const char *fn);

#endif
