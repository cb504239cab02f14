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

#include "activation-simd.h"

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

/* silu'(z) and silu''(z) from z and s = sigmoid(z). */
static inline float silu_d1(float z, float s)
{
    return s * (1.0f + z * (1.0f - s));
}

SM_MULTIVERSION
static void silu_forward_loop(const float *restrict z, float *restrict h, float *restrict s,
                              float *restrict d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + exp_approx(-z[i]));
        h[i] = z[i] * sg;
        if (s)
            s[i] = sg;
        if (d)
            d[i] = silu_d1(z[i], sg);
    }
}

#ifdef SM_AVX512_SILU
/* The whole vectors of sm__silu_forward(); returns how many were done. */
__attribute__((target("avx512f"))) static size_t silu_forward_avx512(const float *z, float *h,
                                                                     float *s, float *d,
                                                                     size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 zv = _mm512_loadu_ps(z + i), sg = sm__sigmoid16(zv);
        _mm512_storeu_ps(h + i, _mm512_mul_ps(zv, sg));
        if (s)
            _mm512_storeu_ps(s + i, sg);
        if (d)
            _mm512_storeu_ps(d + i, sm__silu_d1_16(zv, sg));
    }
    return i;
}
#endif

void sm__silu_forward(const float *restrict z, float *restrict h, float *restrict s,
                      float *restrict d, size_t n)
{
    size_t done = 0;
#ifdef SM_AVX512_SILU
    if (__builtin_cpu_supports("avx512f"))
        done = silu_forward_avx512(z, h, s, d, n);
#endif
    silu_forward_loop(z + done, h + done, s ? s + done : NULL, d ? d + done : NULL, n - done);
}

SM_MULTIVERSION
void sm__mul_inplace(float *restrict g, const float *restrict d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= d[i];
}

static inline float silu_d2(float z, float s)
{
    return s * (1.0f - s) * (2.0f + z * (1.0f - 2.0f * s));
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
