/* The only door to BLIS. Every BLIS call and type stays in blas.c, because
 * BLIS's rntm_t changed layout between 0.9 and 1.0 under the same soname. */
#ifndef SCOREMATCH_BLAS_PRIVATE_H
#define SCOREMATCH_BLAS_PRIVATE_H

#include <stddef.h>

#include "gemm-private.h"

/* Per-handle BLIS runtime (thread count). */
typedef struct sm__blas sm__blas;

sm__blas *sm__blas_new(size_t threads);
void sm__blas_free(sm__blas *b);
void sm__blas_set_threads(sm__blas *b, size_t threads);

/* Products of this handle run on BLIS (blis != 0) or on the library's own
 * kernels where the CPU has them (the default). */
void sm__blas_use_blis(sm__blas *b, int blis);

/* What runs this handle's products: "avx512", "avx2" or "blis". */
const char *sm__blas_kernels(const sm__blas *b);

/* C = alpha·A·B + beta·C for an m×k A, k×n B and m×n C, each addressed with
 * row and column strides in elements (a transpose is a swap of strides).
 * Sizes must already be validated (they fit BLIS's dim_t). With b == NULL
 * the naive reference loops are used (tests compare the two). Runs on the
 * library's own kernels (gemm-private.h) unless the handle chose BLIS. */
void sm__sgemm(sm__blas *b, size_t m, size_t n, size_t k, float alpha,
               const float *a, ptrdiff_t rsa, ptrdiff_t csa,
               const float *bm, ptrdiff_t rsb, ptrdiff_t csb, float beta,
               float *c, ptrdiff_t rsc, ptrdiff_t csc);

/* sm__sgemm() followed by what a network layer does with its product
 * (bias, activation: sm__epilogue in gemm-private.h; NULL: nothing). The
 * own kernels do it tile by tile; the other paths in passes, with the
 * same bits. */
void sm__sgemm_ex(sm__blas *b, size_t m, size_t n, size_t k, float alpha,
                  const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                  const float *bm, ptrdiff_t rsb, ptrdiff_t csb, float beta,
                  float *c, ptrdiff_t rsc, ptrdiff_t csc, const sm__epilogue *epi);

/* The same product in double (covariances of the Fréchet distance). */
void sm__dgemm(sm__blas *b, size_t m, size_t n, size_t k, double alpha,
               const double *a, ptrdiff_t rsa, ptrdiff_t csa,
               const double *bm, ptrdiff_t rsb, ptrdiff_t csb, double beta,
               double *c, ptrdiff_t rsc, ptrdiff_t csc);

#endif
