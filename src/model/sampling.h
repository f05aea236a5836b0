/* sampling.h — internal: the sampler's parameter ranges, checked once for xf_sampler_create and
 * for the settings a model ships (xf_model_sampler_defaults, gen_defaults.c). */
#ifndef XF_MODEL_SAMPLING_H
#define XF_MODEL_SAMPLING_H

#include "xfmr.h"

/* XF_ERR_INVALID_ARG naming the first parameter outside its range (see xf_sampler_params). */
xf_status xf_sampler_check(const xf_sampler_params *p);

#endif
