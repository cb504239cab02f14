/**
 * @file scorematch.h
 * @brief Umbrella header: includes every public libscorematch header.
 */
#ifndef SCOREMATCH_H
#define SCOREMATCH_H

#include "scorematch/common.h"
#include "scorematch/version.h"
#include "scorematch/error.h"
#include "scorematch/rng.h"
#include "scorematch/dataset.h"
/* toydata, metrics */
#include "scorematch/toydata.h"
#include "scorematch/metrics.h"
/* learning */
#include "scorematch/schedule.h"
#include "scorematch/net.h"
#include "scorematch/losses.h"
#include "scorematch/optim.h"
#include "scorematch/train.h"
#include "scorematch/sampler.h"
#include "scorematch/likelihood.h"
/* model files */
#include "scorematch/model.h"

#endif /* SCOREMATCH_H */
