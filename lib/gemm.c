/* Packed single-precision products with AVX-512 and AVX2/FMA micro-kernels
 * (why: see gemm-private.h). The blocking is Goto's: a KC-deep slice of B is
 * packed into NR-wide column panels, an MC-tall slice of A into MR-tall row
 * panels, and a micro-kernel multiplies one row panel by one column panel
 * into an MR×NR tile of C held in registers. The sizes fit the products of
 * a score network (rows of a batch share × layer widths up to a few
 * hundred): a packed B slice stays in L2, a column panel in L1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activation-simd.h"
#include "activation.h"
#include "gemm-private.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define SM_X86_KERNELS 1
#  include <immintrin.h>
#  define SM_TARGET(isa) __attribute__((target(isa)))
#endif

enum {
    KC = 256, /* depth of one packed slice */
    MC = 144, /* rows of A packed at once: a multiple of both MRs */
    NC = 1024 /* columns of B packed at once: a multiple of both NRs */
};

float *sm__gemm_workspace_new(void)
{
    /* A multiple of the alignment, as aligned_alloc() requires. */
    const size_t bytes = ((size_t)MC * KC + (size_t)KC * NC) * sizeof(float);
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

const char *sm__isa_name(sm__isa isa)
{
    switch (isa) {
    case SM__ISA_AVX512:
        return "avx512";
    case SM__ISA_AVX2:
        return "avx2";
    default:
        return "blis";
    }
}

sm__isa sm__isa_detect(void)
{
#ifdef SM_X86_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return SM__ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return SM__ISA_AVX2;
#endif
    return SM__ISA_NONE;
}

/* ---- packing (plain C: linear in the data, the kernels are cubic) ------- */

/* Packs rows [0, mc) × depth [0, kc) of A into ceil(mc/mr) panels of mr rows,
 * each stored depth-major (pa[p·mr + i]); rows past mc are zero. */
static void pack_a(size_t mr, size_t mc, size_t kc, const float *a, ptrdiff_t rsa,
                   ptrdiff_t csa, float *pa)
{
    for (size_t i0 = 0; i0 < mc; i0 += mr, pa += mr * kc) {
        const size_t rows = mc - i0 < mr ? mc - i0 : mr;
        if (rows < mr)
            memset(pa, 0, mr * kc * sizeof *pa);
        if (csa == 1) /* A row-major: read each row along its length */
            for (size_t i = 0; i < rows; i++) {
                const float *src = a + (ptrdiff_t)(i0 + i) * rsa;
                for (size_t p = 0; p < kc; p++)
                    pa[p * mr + i] = src[p];
            }
        else
            for (size_t p = 0; p < kc; p++) {
                const float *src = a + (ptrdiff_t)p * csa + (ptrdiff_t)i0 * rsa;
                for (size_t i = 0; i < rows; i++)
                    pa[p * mr + i] = src[(ptrdiff_t)i * rsa];
            }
    }
}

/* Packs depth [0, kc) × columns [0, nc) of B into ceil(nc/nr) panels of nr
 * columns, each stored depth-major (pb[p·nr + j]); columns past nc are 0. */
static void pack_b(size_t nr, size_t nc, size_t kc, const float *b, ptrdiff_t rsb,
                   ptrdiff_t csb, float *pb)
{
    for (size_t j0 = 0; j0 < nc; j0 += nr, pb += nr * kc) {
        const size_t cols = nc - j0 < nr ? nc - j0 : nr;
        if (cols < nr)
            memset(pb, 0, nr * kc * sizeof *pb);
        if (rsb == 1) /* B column-major (a transposed weight matrix) */
            for (size_t j = 0; j < cols; j++) {
                const float *src = b + (ptrdiff_t)(j0 + j) * csb;
                for (size_t p = 0; p < kc; p++)
                    pb[p * nr + j] = src[p];
            }
        else
            for (size_t p = 0; p < kc; p++) {
                const float *src = b + (ptrdiff_t)p * rsb + (ptrdiff_t)j0 * csb;
                if (csb == 1)
                    memcpy(pb + p * nr, src, cols * sizeof *pb);
                else
                    for (size_t j = 0; j < cols; j++)
                        pb[p * nr + j] = src[(ptrdiff_t)j * csb];
            }
    }
}

/* Writes an accumulated tile t (mr_full × nr_full, row-major) into the
 * valid mr × nr corner of C: c = alpha·t + beta·c, or alpha·t when beta is
 * 0. The same expression, without fused operations, on every path, so an
 * element's bits do not depend on where its tile falls. */
static void tile_update(const float *t, size_t nr_full, size_t mr, size_t nr, float alpha,
                        float beta, const float *bias, float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) {
            float *cij = c + (ptrdiff_t)i * rsc + (ptrdiff_t)j * csc;
            const float v = alpha * t[i * nr_full + j];
            *cij = bias ? v + bias[j] : beta == 0.0f ? v : v + beta * *cij;
        }
}

/* One micro-kernel call: an mr×nr corner of C from a packed row panel and
 * a packed column panel of depth kc; with `bias` (nr values) C gets
 * alpha·tile + bias instead of alpha·tile + beta·C. With `epi`, its
 * other steps follow (the tile is at row i0, column j0 of C). */
typedef void ukernel_fn(size_t kc, const float *pa, const float *pb, float alpha, float beta,
                        const float *bias, float *c, ptrdiff_t rsc, ptrdiff_t csc, size_t mr,
                        size_t nr, const sm__epilogue *epi, size_t i0, size_t j0);

#ifdef SM_X86_KERNELS

/* ---- AVX-512: 12 rows × 32 columns (24 accumulators) -------------------- */

#  define MR512 12
#  define NR512 32
#  define ROW512(i)                                                                          \
      do {                                                                                   \
          const __m512 ai = _mm512_set1_ps(pa[i]);                                           \
          c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a);                                        \
          c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);                                        \
      } while (0)
#  define STORE512(i)                                                                        \
      do {                                                                                   \
          _mm512_store_ps(t + (i) * NR512, c##i##a);                                         \
          _mm512_store_ps(t + (i) * NR512 + 16, c##i##b);                                    \
      } while (0)

SM_TARGET("avx512f")
static void update_avx512(const float *t, float alpha, float beta, const float *bias,
                          float *c, ptrdiff_t rsc, size_t mr, const sm__epilogue *epi,
                          ptrdiff_t off, size_t j0)
{
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const float *mul = epi && epi->mul ? epi->mul + off : NULL;
    float *colsum = epi && epi->colsum ? epi->colsum + j0 : NULL;
    float *h = epi && epi->h ? epi->h + off : NULL;
    float *act = h && (epi->d || epi->s) ? (epi->d ? epi->d : epi->s) + off : NULL;
    const int discard_c = h && epi->discard_c;
    for (size_t q = 0; q < NR512; q += 16) {
        __m512 sum = colsum ? _mm512_loadu_ps(colsum + q) : _mm512_setzero_ps();
        for (size_t i = 0; i < mr; i++) {
            const ptrdiff_t at = (ptrdiff_t)i * rsc + (ptrdiff_t)q;
            __m512 v = _mm512_mul_ps(va, _mm512_load_ps(t + i * NR512 + q));
            if (bias)
                v = _mm512_add_ps(v, _mm512_loadu_ps(bias + q));
            else if (beta != 0.0f)
                v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_loadu_ps(c + at)));
            if (mul)
                v = _mm512_mul_ps(v, _mm512_loadu_ps(mul + at));
            if (!discard_c)
                _mm512_storeu_ps(c + at, v);
            if (colsum)
                sum = _mm512_add_ps(sum, v); /* rows in order, as colsum asks */
            if (h) { /* the layer's activation, from the register */
                const __m512 sg = sm__sigmoid16(v);
                _mm512_storeu_ps(h + at, _mm512_mul_ps(v, sg));
                if (act)
                    _mm512_storeu_ps(act + at, epi->d ? sm__silu_d1_16(v, sg) : sg);
            }
        }
        if (colsum)
            _mm512_storeu_ps(colsum + q, sum);
    }
}

SM_TARGET("avx512f")
static void ukernel_avx512(size_t kc, const float *pa, const float *pb, float alpha, float beta,
                           const float *bias, float *c, ptrdiff_t rsc, ptrdiff_t csc,
                           size_t mr, size_t nr, const sm__epilogue *epi, size_t i0,
                           size_t j0)
{
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a,
           c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a,
           c6b = c0a, c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a,
           c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;
    for (size_t p = 0; p < kc; p++, pa += MR512, pb += NR512) {
        const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
        ROW512(0);
        ROW512(1);
        ROW512(2);
        ROW512(3);
        ROW512(4);
        ROW512(5);
        ROW512(6);
        ROW512(7);
        ROW512(8);
        ROW512(9);
        ROW512(10);
        ROW512(11);
    }
    _Alignas(64) float t[MR512 * NR512];
    STORE512(0);
    STORE512(1);
    STORE512(2);
    STORE512(3);
    STORE512(4);
    STORE512(5);
    STORE512(6);
    STORE512(7);
    STORE512(8);
    STORE512(9);
    STORE512(10);
    STORE512(11);
    if (nr == NR512 && csc == 1)
        update_avx512(t, alpha, beta, bias, c, rsc, mr, epi,
                      (ptrdiff_t)i0 * rsc + (ptrdiff_t)j0, j0);
    else {
        tile_update(t, NR512, mr, nr, alpha, beta, bias, c, rsc, csc);
        sm__epilogue_apply(epi, c, rsc, i0, j0, mr, nr);
    }
}

/* ---- AVX2 + FMA: 6 rows × 16 columns (12 accumulators) ------------------ */

#  define MR256 6
#  define NR256 16
#  define ROW256(i)                                                                          \
      do {                                                                                   \
          const __m256 ai = _mm256_broadcast_ss(pa + (i));                                   \
          c##i##a = _mm256_fmadd_ps(ai, b0, c##i##a);                                        \
          c##i##b = _mm256_fmadd_ps(ai, b1, c##i##b);                                        \
      } while (0)
#  define STORE256(i)                                                                        \
      do {                                                                                   \
          _mm256_store_ps(t + (i) * NR256, c##i##a);                                         \
          _mm256_store_ps(t + (i) * NR256 + 8, c##i##b);                                     \
      } while (0)

SM_TARGET("avx2,fma")
static void update_avx2(const float *t, float alpha, float beta, const float *bias, float *c,
                        ptrdiff_t rsc, size_t mr)
{
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (size_t i = 0; i < mr; i++)
        for (size_t h = 0; h < NR256; h += 8) {
            float *ci = c + (ptrdiff_t)i * rsc + (ptrdiff_t)h;
            __m256 v = _mm256_mul_ps(va, _mm256_load_ps(t + i * NR256 + h));
            if (bias)
                v = _mm256_add_ps(v, _mm256_loadu_ps(bias + h));
            else if (beta != 0.0f)
                v = _mm256_add_ps(v, _mm256_mul_ps(vb, _mm256_loadu_ps(ci)));
            _mm256_storeu_ps(ci, v);
        }
}

SM_TARGET("avx2,fma")
static void ukernel_avx2(size_t kc, const float *pa, const float *pb, float alpha, float beta,
                         const float *bias, float *c, ptrdiff_t rsc, ptrdiff_t csc, size_t mr,
                         size_t nr, const sm__epilogue *epi, size_t i0, size_t j0)
{
    __m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a,
           c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
    for (size_t p = 0; p < kc; p++, pa += MR256, pb += NR256) {
        const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
        ROW256(0);
        ROW256(1);
        ROW256(2);
        ROW256(3);
        ROW256(4);
        ROW256(5);
    }
    _Alignas(32) float t[MR256 * NR256];
    STORE256(0);
    STORE256(1);
    STORE256(2);
    STORE256(3);
    STORE256(4);
    STORE256(5);
    if (nr == NR256 && csc == 1)
        update_avx2(t, alpha, beta, bias, c, rsc, mr);
    else
        tile_update(t, NR256, mr, nr, alpha, beta, bias, c, rsc, csc);
    sm__epilogue_apply(epi, c, rsc, i0, j0, mr, nr);
}

/* ---- AVX-512 packing of the transposing layouts -------------------------
 * Packing A row-major or B column-major is a transpose: element by element
 * it costs an eighth of the product's time at a 256-row share. These copy
 * 16×16 blocks through registers instead; the rest goes element-wise. */

/* dst row q (q < 16) gets element q of source rows 0 … rows−1 (rows ≤ 16;
 * missing rows read as 0), written under `mask`. */
SM_TARGET("avx512f")
static void transpose16_avx512(const float *src, ptrdiff_t lds, size_t rows, float *dst,
                               ptrdiff_t ldd, __mmask16 mask)
{
    __m512 r[16], t[16];
    for (size_t i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_loadu_ps(src + (ptrdiff_t)i * lds) : _mm512_setzero_ps();
    for (size_t i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (size_t i = 0; i < 16; i += 4)
        for (size_t h = 0; h < 2; h++) {
            const __m512d a = _mm512_castps_pd(t[i + h]), b = _mm512_castps_pd(t[i + 2 + h]);
            r[i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    /* r[4g + s] holds, in 128-bit lane L, element 4L + s of rows 4g … 4g+3. */
    for (size_t s = 0; s < 4; s++) {
        const __m512 u0 = _mm512_shuffle_f32x4(r[s], r[4 + s], 0x88);
        const __m512 u1 = _mm512_shuffle_f32x4(r[s], r[4 + s], 0xdd);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0x88);
        const __m512 u3 = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0xdd);
        t[s] = _mm512_shuffle_f32x4(u0, u2, 0x88);      /* element s      */
        t[8 + s] = _mm512_shuffle_f32x4(u0, u2, 0xdd);  /* element 8 + s  */
        t[4 + s] = _mm512_shuffle_f32x4(u1, u3, 0x88);  /* element 4 + s  */
        t[12 + s] = _mm512_shuffle_f32x4(u1, u3, 0xdd); /* element 12 + s */
    }
    for (size_t q = 0; q < 16; q++)
        _mm512_mask_storeu_ps(dst + (ptrdiff_t)q * ldd, mask, t[q]);
}

/* pack_a for a row-major A (csa == 1) with 12-row panels. */
SM_TARGET("avx512f")
static void pack_a_rows_avx512(size_t mc, size_t kc, const float *a, ptrdiff_t rsa, float *pa)
{
    const size_t k16 = kc & ~(size_t)15;
    for (size_t i0 = 0; i0 < mc; i0 += MR512, pa += MR512 * kc) {
        const size_t rows = mc - i0 < MR512 ? mc - i0 : MR512;
        const float *src = a + (ptrdiff_t)i0 * rsa;
        for (size_t p = 0; p < k16; p += 16)
            transpose16_avx512(src + p, rsa, rows, pa + p * MR512, MR512, 0x0FFF);
        for (size_t p = k16; p < kc; p++)
            for (size_t i = 0; i < MR512; i++)
                pa[p * MR512 + i] = i < rows ? src[(ptrdiff_t)i * rsa + (ptrdiff_t)p] : 0.0f;
    }
}

/* pack_b for a column-major B (rsb == 1) with 32-column panels. */
SM_TARGET("avx512f")
static void pack_b_cols_avx512(size_t nc, size_t kc, const float *b, ptrdiff_t csb, float *pb)
{
    const size_t k16 = kc & ~(size_t)15;
    for (size_t j0 = 0; j0 < nc; j0 += NR512, pb += NR512 * kc)
        for (size_t h = 0; h < NR512; h += 16) {
            const size_t cols = nc - j0 > h ? (nc - j0 - h < 16 ? nc - j0 - h : 16) : 0;
            const float *src = b + (ptrdiff_t)(j0 + h) * csb;
            for (size_t p = 0; p < k16; p += 16)
                transpose16_avx512(src + p, csb, cols, pb + p * NR512 + h, NR512, 0xFFFF);
            for (size_t p = k16; p < kc; p++)
                for (size_t j = 0; j < 16; j++)
                    pb[p * NR512 + h + j] = j < cols ? src[(ptrdiff_t)j * csb + (ptrdiff_t)p] : 0.0f;
        }
}

/* pack_a for a column-major A (rsa == 1): each depth step is one masked
 * copy (a library memcpy of 48 bytes costs more than the copy). */
SM_TARGET("avx512f")
static void pack_a_cols_avx512(size_t mc, size_t kc, const float *a, ptrdiff_t csa, float *pa)
{
    for (size_t i0 = 0; i0 < mc; i0 += MR512, pa += MR512 * kc) {
        const size_t rows = mc - i0 < MR512 ? mc - i0 : MR512;
        const __mmask16 m = (__mmask16)((1u << rows) - 1u);
        const float *src = a + i0;
        for (size_t p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(pa + p * MR512, 0x0FFF,
                                  _mm512_maskz_loadu_ps(m, src + (ptrdiff_t)p * csa));
    }
}

/* pack_b for a row-major B (csb == 1): two masked copies per depth step. */
SM_TARGET("avx512f")
static void pack_b_rows_avx512(size_t nc, size_t kc, const float *b, ptrdiff_t rsb, float *pb)
{
    for (size_t j0 = 0; j0 < nc; j0 += NR512, pb += NR512 * kc) {
        const size_t cols = nc - j0 < NR512 ? nc - j0 : NR512;
        const __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1u);
        const __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xFFFFu : cols > 16 ? (1u << (cols - 16)) - 1u : 0u);
        const float *src = b + j0;
        for (size_t p = 0; p < kc; p++, src += rsb) {
            _mm512_store_ps(pb + p * NR512, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(pb + p * NR512 + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
    }
}

/* pack_b for a row-major B (csb == 1) with 16-column AVX2 panels. */
SM_TARGET("avx2,fma")
static void pack_b_rows_avx2(size_t nc, size_t kc, const float *b, ptrdiff_t rsb, float *pb)
{
    for (size_t j0 = 0; j0 < nc; j0 += NR256, pb += NR256 * kc) {
        const size_t cols = nc - j0 < NR256 ? nc - j0 : NR256;
        const float *src = b + j0;
        if (cols < NR256) {
            pack_b(NR256, cols, kc, src, rsb, 1, pb);
            continue;
        }
        for (size_t p = 0; p < kc; p++, src += rsb) {
            _mm256_store_ps(pb + p * NR256, _mm256_loadu_ps(src));
            _mm256_store_ps(pb + p * NR256 + 8, _mm256_loadu_ps(src + 8));
        }
    }
}

/* ---- one row: y = alpha·a·B + beta·y ------------------------------------ */

/* Sums of 16 vectors, one lane each: lane q of the result is the sum of
 * the lanes of s[q] (a transposing tree, 30 operations for 16 sums). */
SM_TARGET("avx512f")
static inline __attribute__((always_inline)) __m512 sum16_avx512(const __m512 *s)
{
    __m512 t[8], w[4];
    for (size_t i = 0; i < 8; i++) /* lanes: [a0+a2, b0+b2, a1+a3, b1+b3] */
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(s[2 * i], s[2 * i + 1]),
                             _mm512_unpackhi_ps(s[2 * i], s[2 * i + 1]));
    for (size_t i = 0; i < 4; i++) { /* lanes: [a, b, c, d] partial sums */
        const __m512d x = _mm512_castps_pd(t[2 * i]), y = _mm512_castps_pd(t[2 * i + 1]);
        w[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    /* w[g], 128-bit lane L: partial sums of columns 4g … 4g+3 over lane L. */
    const __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88),
                                     _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
    const __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88),
                                     _mm512_shuffle_f32x4(w[2], w[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88),
                         _mm512_shuffle_f32x4(x01, x23, 0xdd));
}

/* Dot products of columns j … j+rows−1 of B (rows ≤ 16) with nch chunks
 * of 16 floats of a held in registers, the last chunk read under `tail`:
 * acc[q] += lane products of column q, chunk after chunk. nch is a
 * constant at every call (callers switch on it), so the chunks of a stay
 * in registers and every load of B feeds one FMA. The columns are read one
 * after the other, each along its length: one sequential stream through B,
 * which the hardware prefetches best (sixteen interleaved column streams,
 * or even two, ran at half the speed from L2). */
SM_TARGET("avx512f")
static inline __attribute__((always_inline)) void
dots_panel_avx512(const int nch, const __m512 *av, __mmask16 tail, const float *bj,
                  ptrdiff_t csb, size_t rows, __m512 *acc)
{
    for (size_t q = 0; q < rows; q++) {
        const float *r = bj + (ptrdiff_t)q * csb;
        __m512 x = acc[q];
#  pragma GCC unroll 16
        for (int c = 0; c + 1 < nch; c++)
            x = _mm512_fmadd_ps(av[c], _mm512_loadu_ps(r + 16 * c), x);
        acc[q] = _mm512_fmadd_ps(av[nch - 1], _mm512_maskz_loadu_ps(tail, r + 16 * (nch - 1)), x);
    }
}

/* Loads elements [0, kp) of a (kp ≤ 256) into nch = ceil(kp/16) registers,
 * the last under the returned mask, zeros past kp; the rest are zero. */
SM_TARGET("avx512f")
static inline __attribute__((always_inline)) __mmask16 load_panel_avx512(const int nch, size_t kp,
                                                                       const float *a, __m512 *av)
{
    const size_t last = kp - 16 * (size_t)(nch - 1);
    const __mmask16 tail = (__mmask16)(last == 16 ? 0xFFFFu : (1u << last) - 1u);
#  pragma GCC unroll 16
    for (int c = 0; c < 16; c++)
        av[c] = c + 1 < nch    ? _mm512_loadu_ps(a + 16 * c)
                : c + 1 == nch ? _mm512_maskz_loadu_ps(tail, a + 16 * c)
                               : _mm512_setzero_ps();
    return tail;
}

/* y_j … y_{j+rows−1} (stride incy ≠ 1) from a block's sums t: y = t, or
 * t + beta·y. Not inlined: one copy, not one per depth. */
static __attribute__((noinline)) void store_strided(const float *t, size_t rows, float beta,
                                                    float *y, ptrdiff_t incy)
{
    for (size_t q = 0; q < rows; q++) {
        float *yq = y + (ptrdiff_t)q * incy;
        *yq = beta == 0.0f ? t[q] : t[q] + beta * *yq;
    }
}

/* y_j … y_{j+rows−1} from a block's lane sums: y = d, or d + beta·y. */
SM_TARGET("avx512f")
static inline void store_block_avx512(__m512 d, size_t rows, float beta, float *y, ptrdiff_t incy)
{
    const __mmask16 m = (__mmask16)(rows == 16 ? 0xFFFFu : (1u << rows) - 1u);
    if (incy == 1) {
        if (beta != 0.0f)
            d = _mm512_add_ps(d, _mm512_mul_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, y)));
        _mm512_mask_storeu_ps(y, m, d);
        return;
    }
    _Alignas(64) float t[16];
    _mm512_store_ps(t, d);
    store_strided(t, rows, beta, y, incy);
}

/* gemv_cols_avx512 for k ≤ 256 (nch = ceil(k/16), a constant at each
 * call): a is loaded once, and the loop over the blocks of 16 columns has
 * no branch on the depth. */
SM_TARGET("avx512f")
static inline __attribute__((always_inline)) void
gemv_cols_short_avx512(const int nch, size_t n, size_t k, float alpha, const float *a,
                       const float *b, ptrdiff_t csb, float beta, float *y, ptrdiff_t incy)
{
    __m512 av[16];
    const __mmask16 tail = load_panel_avx512(nch, k, a, av);
    const __m512 va = _mm512_set1_ps(alpha);
    for (size_t j = 0; j < n; j += 16) {
        const size_t rows = n - j < 16 ? n - j : 16;
        __m512 acc[16];
        for (size_t q = 0; q < 16; q++)
            acc[q] = _mm512_setzero_ps();
        dots_panel_avx512(nch, av, tail, b + (ptrdiff_t)j * csb, csb, rows, acc);
        /* Columns past n kept zero sums; their lanes are not written. */
        store_block_avx512(_mm512_mul_ps(va, sum16_avx512(acc)), rows, beta,
                           y + (ptrdiff_t)j * incy, incy);
    }
}

/* B column-major (rsb == 1): y_j is the dot product of column j with a (a
 * row of the network's W). Blocks of 16 columns, each read one column
 * after the other against a panel of up to 256 elements of a held in
 * registers (dots_panel_avx512); one reduction tree gives the block's 16
 * sums. Every y_j is the same sum in the same order — lane-wise FMAs along
 * k, then the tree — whatever n, j and the panel split, so a column's bits
 * do not depend on how many others are computed with it. */
SM_TARGET("avx512f")
static void gemv_cols_avx512(size_t n, size_t k, float alpha, const float *a, const float *b,
                             ptrdiff_t csb, float beta, float *y, ptrdiff_t incy)
{
    enum { PANEL = 256 };
    switch ((k + 15) / 16) {
#  define SM_SHORT(c)                                                                        \
      case c:                                                                                \
          gemv_cols_short_avx512(c, n, k, alpha, a, b, csb, beta, y, incy);                  \
          return;
        SM_SHORT(1) SM_SHORT(2) SM_SHORT(3) SM_SHORT(4) SM_SHORT(5) SM_SHORT(6) SM_SHORT(7)
        SM_SHORT(8) SM_SHORT(9) SM_SHORT(10) SM_SHORT(11) SM_SHORT(12) SM_SHORT(13)
        SM_SHORT(14) SM_SHORT(15) SM_SHORT(16)
#  undef SM_SHORT
    default:
        break;
    }
    /* Deeper: panels of 256, a's panel reloaded for every block. */
    const __m512 va = _mm512_set1_ps(alpha);
    for (size_t j = 0; j < n; j += 16) {
        const size_t rows = n - j < 16 ? n - j : 16;
        const float *bj = b + (ptrdiff_t)j * csb;
        __m512 acc[16];
        for (size_t q = 0; q < 16; q++)
            acc[q] = _mm512_setzero_ps();
        for (size_t p0 = 0; p0 < k; p0 += PANEL) {
            const size_t kp = k - p0 < PANEL ? k - p0 : PANEL;
            const int nch = (int)((kp + 15) / 16);
            __m512 av[16];
            const float *bp = bj + p0;
            if (nch == 16) {
                dots_panel_avx512(16, av, load_panel_avx512(16, kp, a + p0, av), bp, csb, rows,
                                  acc);
                continue;
            }
            /* The last, shorter panel: the same operations in the same
             * order, with a read from memory (not worth a copy of the
             * code for each length). */
            const __mmask16 tail = load_panel_avx512(nch, kp, a + p0, av);
            for (size_t q = 0; q < rows; q++) {
                const float *r = bp + (ptrdiff_t)q * csb;
                __m512 x = acc[q];
                for (int c = 0; c + 1 < nch; c++)
                    x = _mm512_fmadd_ps(av[c], _mm512_loadu_ps(r + 16 * c), x);
                acc[q] = _mm512_fmadd_ps(av[nch - 1],
                                         _mm512_maskz_loadu_ps(tail, r + 16 * (nch - 1)), x);
            }
        }
        store_block_avx512(_mm512_mul_ps(va, sum16_avx512(acc)), rows, beta,
                           y + (ptrdiff_t)j * incy, incy);
    }
}

/* B row-major (csb == 1): y accumulates a_p times row p, 64 columns of y in
 * registers at a time. */
SM_TARGET("avx512f")
static void gemv_rows_avx512(size_t n, size_t k, float alpha, const float *a, ptrdiff_t inca,
                             const float *b, ptrdiff_t rsb, float beta, float *y)
{
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (size_t j = 0; j < n; j += 64) {
        const size_t cols = n - j < 64 ? n - j : 64;
        __mmask16 m[4];
        for (size_t q = 0; q < 4; q++) {
            const size_t lo = 16 * q;
            const size_t w = cols > lo ? (cols - lo < 16 ? cols - lo : 16) : 0;
            m[q] = (__mmask16)((1u << w) - 1u);
        }
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        const float *bp = b + j;
        for (size_t p = 0; p < k; p++, bp += rsb) {
            const __m512 ap = _mm512_set1_ps(a[(ptrdiff_t)p * inca]);
            s0 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(m[0], bp), s0);
            s1 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(m[1], bp + 16), s1);
            s2 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(m[2], bp + 32), s2);
            s3 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(m[3], bp + 48), s3);
        }
        const __m512 s[4] = {s0, s1, s2, s3};
        for (size_t q = 0; q < 4; q++) {
            if (!m[q])
                break;
            float *yq = y + j + 16 * q;
            __m512 v = _mm512_mul_ps(va, s[q]);
            if (beta != 0.0f)
                v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m[q], yq)));
            _mm512_mask_storeu_ps(yq, m[q], v);
        }
    }
}

SM_TARGET("avx2,fma")
static float hsum256(__m256 s)
{
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

SM_TARGET("avx2,fma")
static void gemv_cols_avx2(size_t n, size_t k, float alpha, const float *a, const float *b,
                           ptrdiff_t csb, float beta, float *y, ptrdiff_t incy)
{
    const size_t k8 = k & ~(size_t)7;
    for (size_t j = 0; j < n; j++) {
        const float *bj = b + (ptrdiff_t)j * csb;
        __m256 s = _mm256_setzero_ps();
        for (size_t p = 0; p < k8; p += 8)
            s = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(bj + p), s);
        float d = hsum256(s);
        for (size_t p = k8; p < k; p++)
            d += a[p] * bj[p];
        float *yj = y + (ptrdiff_t)j * incy;
        const float v = alpha * d;
        *yj = beta == 0.0f ? v : v + beta * *yj;
    }
}

#endif /* SM_X86_KERNELS */

/* Any strides: the plain loops (one row, so the cost is the reading of B). */
static void gemv_any(size_t n, size_t k, float alpha, const float *a, ptrdiff_t inca,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta, float *y,
                     ptrdiff_t incy)
{
    for (size_t j = 0; j < n; j++) {
        float d = 0.0f;
        for (size_t p = 0; p < k; p++)
            d += a[(ptrdiff_t)p * inca] * b[(ptrdiff_t)p * rsb + (ptrdiff_t)j * csb];
        float *yj = y + (ptrdiff_t)j * incy;
        const float v = alpha * d;
        *yj = beta == 0.0f ? v : v + beta * *yj;
    }
}

static void gemv(sm__isa isa, size_t n, size_t k, float alpha, const float *a, ptrdiff_t inca,
                 const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta, float *y,
                 ptrdiff_t incy)
{
#ifdef SM_X86_KERNELS
    if (rsb == 1 && inca == 1) {
        if (isa == SM__ISA_AVX512)
            gemv_cols_avx512(n, k, alpha, a, b, csb, beta, y, incy);
        else
            gemv_cols_avx2(n, k, alpha, a, b, csb, beta, y, incy);
        return;
    }
    if (csb == 1 && incy == 1 && isa == SM__ISA_AVX512) {
        gemv_rows_avx512(n, k, alpha, a, inca, b, rsb, beta, y);
        return;
    }
#else
    (void)isa;
#endif
    gemv_any(n, k, alpha, a, inca, b, rsb, csb, beta, y, incy);
}

void sm__epilogue_apply(const sm__epilogue *epi, float *c, ptrdiff_t rsc, size_t i0, size_t j0,
                        size_t rows, size_t cols)
{
    if (!epi || !(epi->mul || epi->colsum || epi->h))
        return;
    const ptrdiff_t off = (ptrdiff_t)i0 * rsc + (ptrdiff_t)j0;
    for (size_t i = 0; i < rows; i++) {
        float *ci = c + (ptrdiff_t)i * rsc;
        const ptrdiff_t at = off + (ptrdiff_t)i * rsc;
        if (epi->mul)
            sm__mul_inplace(ci, epi->mul + at, cols);
        if (epi->colsum)
            for (size_t j = 0; j < cols; j++)
                epi->colsum[j0 + j] += ci[j];
        if (epi->h)
            sm__silu_forward(ci, epi->h + at, epi->s ? epi->s + at : NULL,
                             epi->d ? epi->d + at : NULL, cols);
    }
}

void sm__gemm_run(sm__isa isa, float *ws, size_t m, size_t n, size_t k, float alpha,
                  const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b, ptrdiff_t rsb,
                  ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    sm__gemm_run_ex(isa, ws, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, NULL);
}

void sm__set_rows_to_bias(const float *bias, size_t m, size_t n, float *c, ptrdiff_t rsc,
                          ptrdiff_t csc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[(ptrdiff_t)i * rsc + (ptrdiff_t)j * csc] = bias[j];
}

void sm__gemm_run_ex(sm__isa isa, float *ws, size_t m, size_t n, size_t k, float alpha,
                     const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                     ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc,
                     ptrdiff_t csc, const sm__epilogue *epi)
{
    const float *bias = epi ? epi->bias : NULL;
    if (m == 0 || n == 0)
        return;
    ukernel_fn *kernel = NULL;
    size_t mr = 1, nr = 1;
#ifdef SM_X86_KERNELS
    if (isa == SM__ISA_AVX512) {
        kernel = ukernel_avx512;
        mr = MR512;
        nr = NR512;
    } else {
        kernel = ukernel_avx2;
        mr = MR256;
        nr = NR256;
    }
#endif
    if (bias && (k == 0 || alpha == 0.0f || m == 1 || !kernel)) {
        /* alpha·A·B + bias as alpha·A·B + 1·C with C = bias: the same
         * expression as the micro-kernels' update. */
        sm__set_rows_to_bias(bias, m, n, c, rsc, csc);
        bias = NULL;
        beta = 1.0f;
    }
    if (k == 0 || alpha == 0.0f) { /* C = beta·C, as BLAS defines it */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float *cij = c + (ptrdiff_t)i * rsc + (ptrdiff_t)j * csc;
                *cij = beta == 0.0f ? 0.0f : beta * *cij;
            }
        sm__epilogue_apply(epi, c, rsc, 0, 0, m, n);
        return;
    }
    if (m == 1) {
        gemv(isa, n, k, alpha, a, csa, b, rsb, csb, beta, c, csc);
        sm__epilogue_apply(epi, c, rsc, 0, 0, m, n);
        return;
    }
    if (!kernel) {
        /* Not reachable: callers pass an instruction set this CPU runs. */
        for (size_t i = 0; i < m; i++)
            gemv_any(n, k, alpha, a + (ptrdiff_t)i * rsa, csa, b, rsb, csb, beta,
                     c + (ptrdiff_t)i * rsc, csc);
        sm__epilogue_apply(epi, c, rsc, 0, 0, m, n);
        return;
    }
    float *pa = ws, *pb = ws + (size_t)MC * KC;
    for (size_t jc = 0; jc < n; jc += NC) {
        const size_t nc = n - jc < NC ? n - jc : NC;
        for (size_t pc = 0; pc < k; pc += KC) {
            const size_t kc = k - pc < KC ? k - pc : KC;
            /* The first slice applies the caller's beta or the bias; later
             * ones add; the last one is followed by the activation. */
            const float beta_pc = pc == 0 ? beta : 1.0f;
            const float *bias_pc = pc == 0 && bias ? bias + jc : NULL;
            const int last = pc + kc == k;
            const float *bs = b + (ptrdiff_t)pc * rsb + (ptrdiff_t)jc * csb;
#ifdef SM_X86_KERNELS
            if (isa == SM__ISA_AVX512 && rsb == 1)
                pack_b_cols_avx512(nc, kc, bs, csb, pb);
            else if (isa == SM__ISA_AVX512 && csb == 1)
                pack_b_rows_avx512(nc, kc, bs, rsb, pb);
            else if (isa == SM__ISA_AVX2 && csb == 1)
                pack_b_rows_avx2(nc, kc, bs, rsb, pb);
            else
#endif
                pack_b(nr, nc, kc, bs, rsb, csb, pb);
            for (size_t ic = 0; ic < m; ic += MC) {
                const size_t mc = m - ic < MC ? m - ic : MC;
                const float *as = a + (ptrdiff_t)ic * rsa + (ptrdiff_t)pc * csa;
#ifdef SM_X86_KERNELS
                if (isa == SM__ISA_AVX512 && csa == 1)
                    pack_a_rows_avx512(mc, kc, as, rsa, pa);
                else if (isa == SM__ISA_AVX512 && rsa == 1)
                    pack_a_cols_avx512(mc, kc, as, csa, pa);
                else
#endif
                    pack_a(mr, mc, kc, as, rsa, csa, pa);
                for (size_t jr = 0; jr < nc; jr += nr) {
                    const size_t ncols = nc - jr < nr ? nc - jr : nr;
                    const float *pbj = pb + jr * kc;
                    for (size_t ir = 0; ir < mc; ir += mr) {
                        const size_t nrows = mc - ir < mr ? mc - ir : mr;
                        float *cij = c + (ptrdiff_t)(ic + ir) * rsc + (ptrdiff_t)(jc + jr) * csc;
                        kernel(kc, pa + ir * kc, pbj, alpha, beta_pc,
                               bias_pc ? bias_pc + jr : NULL, cij, rsc, csc, nrows, ncols,
                               last ? epi : NULL, ic + ir, jc + jr);
                    }
                }
            }
        }
    }
}
