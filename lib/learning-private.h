/* Accessors the learning modules share without exporting them. */
#ifndef SCOREMATCH_LEARNING_PRIVATE_H
#define SCOREMATCH_LEARNING_PRIVATE_H

#include "scorematch/optim.h"
#include "scorematch/schedule.h"

/* The ladder's values, largest first (sm_schedule_levels() of them). */
const float *sm__schedule_sigmas(const sm_schedule *sched);

/* sm_optim_step_net() for a network whose gradient is known to be there,
 * with Adam's update split between the network's threads (same bits);
 * messages name fn. The parameters before the update are kept in `backup`
 * (sm_net_num_params() floats) and *diverged is set when an updated
 * parameter is not finite: for Adam in the update's own pass. */
sm_status sm__optim_step_pool(sm_optim *opt, sm_net *net, float *backup, int *diverged,
                              const char *fn);

/* Number of parameters an optimizer was created for. */
size_t sm__optim_size(const sm_optim *opt);

/* Optimizer kinds as sm__optim_state reports them. */
enum { SM__OPTIM_ADAM = 0, SM__OPTIM_SGD = 1 };

/* Everything an optimizer's future updates depend on. The moment pointers
 * borrow the optimizer's buffers: m holds Adam's first moment or SGD's
 * velocity, v Adam's second moment (NULL for SGD). Hyperparameters a kind
 * does not use are 0. */
typedef struct {
    int kind;
    size_t n;
    double lr, beta1, beta2, eps, weight_decay, momentum, clip;
    uint64_t t;
    const float *m, *v;
} sm__optim_state;

/* Fills *state from opt. */
void sm__optim_get_state(const sm_optim *opt, sm__optim_state *state);

/* Sets the step count and copies the moments (n floats each; v only for
 * Adam) into an optimizer of the same kind and size. */
void sm__optim_restore(sm_optim *opt, uint64_t t, const float *m, const float *v);

#endif
