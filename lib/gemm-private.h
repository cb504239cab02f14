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

#endif
