/* Sliced score matching core, shared by sm_ssm_loss() and the trainer. */
#ifndef SCOREMATCH_SSM_PRIVATE_H
#define SCOREMATCH_SSM_PRIVATE_H

#include "scoremodel-private.h"

/* Per-thread workspaces for SSM passes over a network with a given thread
 * count; kept by the trainer so that a training step allocates nothing. */
typedef struct sm__ssm_ws sm__ssm_ws;

/* Frees a workspace; NULL is accepted. */
void sm__ssm_ws_free(sm__ssm_ws *ws);

/* As sm_ssm_loss() on checked inputs; errors name fn. With with_grad the
 * gradient is added to the network's only if loss and gradient are finite.
 * *ws is the workspace to use, (re)made for the network's current thread
 * count when needed; ws NULL means a temporary one. */
sm_status sm__ssm_core(sm_net *net, sm__ssm_ws **ws, const float *x, const float *sigma,
                       const sm__cond *cond, const float *eps, const float *v, size_t n,
                       size_t dim, int with_grad, double *loss, const char *fn);

#endif
