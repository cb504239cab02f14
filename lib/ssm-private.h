/* Sliced score matching core, shared by sm_ssm_loss() and the trainer. */
#ifndef SCOREMATCH_SSM_PRIVATE_H
#define SCOREMATCH_SSM_PRIVATE_H

#include "scorematch/net.h"

/* As sm_ssm_loss() on checked inputs; errors name fn. With with_grad the
 * gradient is added to the network's only if loss and gradient are finite. */
sm_status sm__ssm_core(sm_net *net, const float *x, const float *sigma, const float *eps,
                       const float *v, size_t n, size_t dim, int with_grad, double *loss,
                       const char *fn);

#endif
