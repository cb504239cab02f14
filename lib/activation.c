/* SiLU with an exp that vectorizes.
 *
 * libm's expf is a call per element and keeps the loops scalar; the SiLU
 * then costs as much as a third of a training step. This exp is branch-free
 * arithmetic (Cody–Waite reduction by ln 2 and Cephes' degree-6 polynomial),
 * so the compiler vectorizes the loops; with GCC on x86-64 they are also
 * built for AVX2 and picked at load time. Without FP contraction (ISO C
 * mode) every variant gives the same bits, so results stay reproducible. */
#include <stdint.h>
#include <string.h>

#include "activation.h"
#include "internal.h"

static inline float exp_approx(float x)
{
    /* Clamp to the range where 2^n is a normal float. This form maps onto
     * vector max/min (a NaN stays NaN); the loops vectorize only with
     * -fno-trapping-math, which the build sets. */
    x = x < -87.0f ? -87.0f : x;
    x = x > 87.0f ? 87.0f : x;
    /* n = round(x / ln 2) by the 1.5·2^23 trick (|x / ln 2| < 2^22): the
     * integer also sits in the low bits of t, so 2^n is built with integer
     * arithmetic only (no float-to-int conversion, defined even for NaN). */
    const float magic = 12582912.0f; /* bits 0x4B400000 */
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float sm__expf(float x)
{
    return exp_approx(x);
}

SM_MULTIVERSION
void sm__silu_forward(const float *restrict z, float *restrict h, float *restrict s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + exp_approx(-z[i]));
        s[i] = sg;
        h[i] = z[i] * sg;
    }
}

/* silu'(z) and silu''(z) from z and s = sigmoid(z). */
static inline float silu_d1(float z, float s)
{
    return s * (1.0f + z * (1.0f - s));
}

static inline float silu_d2(float z, float s)
{
    return s * (1.0f - s) * (2.0f + z * (1.0f - 2.0f * s));
}

SM_MULTIVERSION
void sm__silu_backward(float *restrict g, const float *restrict z, const float *restrict s,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= silu_d1(z[i], s[i]);
}

void sm__silu_tangent(const float *restrict z, const float *restrict s,
                      const float *restrict zd, float *restrict hd, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hd[i] = silu_d1(z[i], s[i]) * zd[i];
}

void sm__silu_tangent_backward(float *restrict g, float *restrict gd, const float *restrict z,
                               const float *restrict s, const float *restrict zd, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float d1 = silu_d1(z[i], s[i]), gi = g[i], gdi = gd[i];
        g[i] = gi * d1 + gdi * silu_d2(z[i], s[i]) * zd[i];
        gd[i] = gdi * d1;
    }
}
