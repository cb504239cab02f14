/* Accessors the learning modules share without exporting them. */
#ifndef SCOREMATCH_LEARNING_PRIVATE_H
#define SCOREMATCH_LEARNING_PRIVATE_H

#include "scorematch/optim.h"
#include "scorematch/schedule.h"

/* The ladder's values, largest first (sm_schedule_levels() of them). */
const float *sm__schedule_sigmas(const sm_schedule *sched);

/* Number of parameters an optimizer was created for. */
size_t sm__optim_size(const sm_optim *opt);

#endif
