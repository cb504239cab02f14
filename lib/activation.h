/* SiLU activation over arrays: values, first and second derivatives, for
 * the forward and backward passes and the Jacobian-vector product. With
 * s = sigmoid(z): silu(z) = z·s, silu' = s·(1 + z(1 − s)),
 * silu'' = s(1 − s)(2 + z(1 − 2s)). */
#ifndef SCOREMATCH_ACTIVATION_H
#define SCOREMATCH_ACTIVATION_H

#include <stddef.h>

/* h = silu(z) = z·s for n elements, and where given (not NULL) s =
 * sigmoid(z) and d = silu'(z) = s·(1 + z·(1 − s)): the derivative is all
 * a backward pass needs (g ← g ⊙ d, sm__mul_inplace()), sigmoid(z) what
 * the Jacobian-vector product needs. h and d have the same bits whichever
 * outputs are asked for. */
void sm__silu_forward(const float *z, float *h, float *s, float *d, size_t n);

/* g ← g ⊙ d, for n elements. */
void sm__mul_inplace(float *g, const float *d, size_t n);

/* Forward-mode tangent: hd = silu'(z) ⊙ zd. */
void sm__silu_tangent(const float *z, const float *s, const float *zd, float *hd, size_t n);

/* Reverse pass through (h, ḣ) = (silu(z), silu'(z)·ż): given g = ∂L/∂h and
 * gd = ∂L/∂ḣ, overwrites g with ∂L/∂z = g·silu'(z) + gd·silu''(z)·ż and gd
 * with ∂L/∂ż = gd·silu'(z). */
void sm__silu_tangent_backward(float *g, float *gd, const float *z, const float *s,
                               const float *zd, size_t n);

/* exp(x) as used above (relative error < 3e-7 for |x| ≤ 87), for tests. */
float sm__expf(float x);

#endif
