/* SiLU on 16 lanes with AVX-512, shared by the activation passes
 * (activation.c) and the products' epilogue (gemm.c), which applies it to
 * each tile while the tile is still in registers. Every lane gets the bits
 * of the scalar code in activation.c. */
#ifndef SCOREMATCH_ACTIVATION_SIMD_H
#define SCOREMATCH_ACTIVATION_SIMD_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define SM_AVX512_SILU 1
#  include <immintrin.h>

/* exp_approx() on 16 lanes, operation for operation (separate multiplies
 * and adds, no fused ones), so every lane gets the scalar code's bits. The
 * compiler's own vectorization of the scalar loop blends the clamps through
 * masks and runs three times slower. max(−87, x) and min(87, x) return x
 * when x is NaN, as the scalar comparisons do. */
__attribute__((target("avx512f"))) static inline __m512 sm__exp16(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(87.0f), x);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic);
    const __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r),
                      _mm512_set1_ps(1.0f));
    /* (t's bits − 0x4B400000 + 127) << 23 as one subtraction: the same bits
     * in 32-bit wrapping arithmetic. */
    const __m512i bits = _mm512_slli_epi32(
        _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000 - 127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* sigmoid(z) as 1 / (1 + exp(−z)), −z by flipping the sign bit as the
 * scalar negation does. */
__attribute__((target("avx512f"))) static inline __m512 sm__sigmoid16(__m512 z)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(z), sign));
    return _mm512_div_ps(one, _mm512_add_ps(one, sm__exp16(neg)));
}

/* silu'(z) = s·(1 + z·(1 − s)) from z and s = sigmoid(z), in the scalar
 * code's order of operations. */
__attribute__((target("avx512f"))) static inline __m512 sm__silu_d1_16(__m512 z, __m512 s)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_mul_ps(s, _mm512_add_ps(one, _mm512_mul_ps(z, _mm512_sub_ps(one, s))));
}

#endif
#endif
