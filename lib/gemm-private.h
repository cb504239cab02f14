/* The library's own single-precision matrix products.
 *
 * A distribution's BLIS picks its kernels from the CPU it recognises and
 * falls back to portable generic code on newer CPUs (Debian's BLIS 0.9 on
 * AMD Zen 5 runs 3x slower than it could). The products a score network
 * needs are few and regular, so the library carries packed micro-kernels
 * for them (AVX-512 and AVX2/FMA, chosen at run time from CPUID) and keeps
 * BLIS for CPUs without either and as the reference. Nothing here touches
 * BLIS or any process-wide state. */
#ifndef SCOREMATCH_GEMM_PRIVATE_H
#define SCOREMATCH_GEMM_PRIVATE_H

#include <stddef.h>

/* Instruction sets the kernels are written for. */
typedef enum {
    SM__ISA_NONE = 0, /* no kernel of ours: BLIS runs the products */
    SM__ISA_AVX2 = 1, /* AVX2 + FMA, 6×16 micro-tile */
    SM__ISA_AVX512 = 2 /* AVX-512F, 12×32 micro-tile */
} sm__isa;

/* The best instruction set this CPU and compiler support (NONE off x86-64). */
sm__isa sm__isa_detect(void);

/* A short name: "avx512", "avx2", or "blis" for NONE (BLIS runs the
 * products then). */
const char *sm__isa_name(sm__isa isa);

/* The packing space sm__gemm_run() needs (fixed: the products are
 * blocked), 64-byte aligned; allocated by the caller once and reused,
 * released with free(). NULL when out of memory. */
float *sm__gemm_workspace_new(void);

/* What follows the product of a network layer. Done on each finished tile
 * of C while it is in the first-level cache, instead of in passes over C
 * afterwards, with the same bits as those passes:
 *  - bias (n values, or NULL): C = alpha·A·B + bias, bias[j] added to every
 *    row in place of beta·C (beta must be 0);
 *  - mul (or NULL): C ← C ⊙ mul (the backward pass through an activation:
 *    mul holds its derivative);
 *  - colsum (n values, or NULL): colsum[j] += C[i][j] for i = 0, 1, …, m−1
 *    in that order (a bias gradient);
 *  - h (or NULL): h = silu(C), and d = silu'(C) where d is not NULL, or
 *    s = sigmoid(C) where s is not NULL (at most one of the two).
 *  - discard_c (with h): the caller needs h and d or s only, so C's final
 *    values may be left unwritten (C is still used as scratch).
 * mul, h, s and d are laid out as C, which must have column stride 1 when
 * any of mul, colsum and h is set. */
typedef struct {
    const float *bias;
    const float *mul;
    float *colsum;
    float *h, *s, *d;
    int discard_c;
} sm__epilogue;

/* Sets C's rows [0, m) to the n values of `bias`: a layer's product then
 * adds to them with beta = 1, the bits of the epilogue's bias. */
void sm__set_rows_to_bias(const float *bias, size_t m, size_t n, float *c, ptrdiff_t rsc,
                          ptrdiff_t csc);

/* Applies what follows the bias in `epi` (mul, colsum, activation; nothing
 * for NULL) to the rows × cols block of C at row i0, column j0, which
 * starts at `c` (C has column stride 1 and row stride rsc). */
void sm__epilogue_apply(const sm__epilogue *epi, float *c, ptrdiff_t rsc, size_t i0, size_t j0,
                        size_t rows, size_t cols);

/* C = alpha·A·B + beta·C with the kernels of `isa` (not NONE and supported
 * by this CPU): A m×k, B k×n, C m×n, each addressed by row and column
 * strides in elements. beta == 0 overwrites C (NaN in C is not read).
 * `ws` comes from sm__gemm_workspace_new(). For
 * m ≥ 2 every element of C is the same sum over k, in the same order,
 * whatever m and the position of its row, so splitting rows between
 * threads changes no bit. For m == 1 a matrix-vector kernel runs (no
 * packing; `ws` unused) whose summation order differs. */
void sm__gemm_run(sm__isa isa, float *ws, size_t m, size_t n, size_t k, float alpha,
                  const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b, ptrdiff_t rsb,
                  ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc);

/* sm__gemm_run() followed by `epi` (NULL: nothing). */
void sm__gemm_run_ex(sm__isa isa, float *ws, size_t m, size_t n, size_t k, float alpha,
                     const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                     ptrdiff_t rsb, ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc,
                     ptrdiff_t csc, const sm__epilogue *epi);

#endif
