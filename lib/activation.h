/* SiLU activation over arrays: values, first and second derivatives, for
 * the forward and backward passes and the Jacobian-vector product. With
 * s = sigmoid(z): silu(z) = z·s, silu' = s·(1 + z(1 − s)),
 * silu'' = s(1 − s)(2 + z(1 − 2s)). */
#ifndef SCOREMATCH_ACTIVATION_H
#define SCOREMATCH_ACTIVATION_H

#include <stddef.h>

/* s = sigmoid(z), h = z·s, for n elements. */
void sm__silu_forward(const float *z, float *h, float *s, size_t n);

/* h = silu(z) and d = silu'(z) = s·(1 + z·(1 − s)), for n elements: what
 * training keeps of a layer, the derivative being all the backward pass
 * needs (g ← g ⊙ d, sm__mul_inplace()). The same bits as computing s with
 * sm__silu_forward() and the derivative from z and s afterwards. */
void sm__silu_forward_d(const float *z, float *h, float *d, size_t n);

/* h = silu(z) alone (inference), the bits of sm__silu_forward()'s h. */
void sm__silu(const float *z, float *h, size_t n);

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
