/* SiLU activation over arrays, forward and backward. */
#ifndef SCOREMATCH_ACTIVATION_H
#define SCOREMATCH_ACTIVATION_H

#include <stddef.h>

/* s = sigmoid(z), h = z·s, for n elements. */
void sm__silu_forward(const float *z, float *h, float *s, size_t n);

/* g ← g · silu'(z) with silu'(z) = s·(1 + z·(1 − s)), s = sigmoid(z). */
void sm__silu_backward(float *g, const float *z, const float *s, size_t n);

/* exp(x) as used above (relative error < 3e-7 for |x| ≤ 87), for tests. */
float sm__expf(float x);

#endif
