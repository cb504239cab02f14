/* BLIS calls (typed API, per-call runtime) and the reference products. */
/* blis.h uses pthread barriers, which strict C11 mode hides. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include <blis.h>

#include "blas-private.h"
#include "gemm-private.h"
#include "scorematch/version.h"

struct sm__blas {
    rntm_t rntm;
    sm__isa isa; /* the library's own kernels, or NONE for BLIS */
    float *ws;   /* their packing space, allocated at the first product */
};

sm__blas *sm__blas_new(size_t threads)
{
    sm__blas *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    /* BLIS_RNTM_INITIALIZER keeps the small-matrix (sup) path on; copying
     * the global runtime (bli_rntm_init_from_global) would turn it off in
     * BLIS 0.9 and make 128-wide products 2-3x slower. */
    rntm_t init = BLIS_RNTM_INITIALIZER;
    b->rntm = init;
    b->isa = sm__isa_detect();
    b->ws = NULL;
    sm__blas_set_threads(b, threads);
    return b;
}

const char *sm_blas_config(void)
{
    bli_init(); /* idempotent; BLIS picks its kernels here */
    const char *name = bli_arch_string(bli_arch_query_id());
    return name ? name : "unknown";
}

const char *sm_kernel_config(void)
{
    return sm__isa_name(sm__isa_detect());
}

void sm__blas_free(sm__blas *b)
{
    if (b)
        free(b->ws);
    free(b);
}

void sm__blas_use_blis(sm__blas *b, int blis)
{
    b->isa = blis ? SM__ISA_NONE : sm__isa_detect();
}

const char *sm__blas_kernels(const sm__blas *b)
{
    return sm__isa_name(b ? b->isa : SM__ISA_NONE);
}

/* The packing space of the library's kernels, or NULL (then BLIS runs the
 * product: a failed allocation costs speed, never a result). */
static float *workspace(sm__blas *b)
{
    if (!b->ws)
        b->ws = sm__gemm_workspace_new();
    return b->ws;
}

void sm__blas_set_threads(sm__blas *b, size_t threads)
{
    bli_rntm_set_num_threads((dim_t)(threads ? threads : 1), &b->rntm);
}

static void sgemm_ref(size_t m, size_t n, size_t k, float alpha, const float *a,
                      ptrdiff_t rsa, ptrdiff_t csa, const float *bm, ptrdiff_t rsb,
                      ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++)
                acc += (double)a[(ptrdiff_t)i * rsa + (ptrdiff_t)p * csa] *
                       (double)bm[(ptrdiff_t)p * rsb + (ptrdiff_t)j * csb];
            float *cij = &c[(ptrdiff_t)i * rsc + (ptrdiff_t)j * csc];
            /* beta == 0 overwrites, as BLAS does, even if C holds NaN. */
            *cij = (float)((double)alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * (double)*cij));
        }
}

void sm__sgemm(sm__blas *b, size_t m, size_t n, size_t k, float alpha, const float *a,
               ptrdiff_t rsa, ptrdiff_t csa, const float *bm, ptrdiff_t rsb,
               ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    sm__sgemm_ex(b, m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, rsc, csc, NULL);
}

static void sgemm_blis(sm__blas *b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       ptrdiff_t rsa, ptrdiff_t csa, const float *bm, ptrdiff_t rsb,
                       ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc);

void sm__sgemm_ex(sm__blas *b, size_t m, size_t n, size_t k, float alpha, const float *a,
                  ptrdiff_t rsa, ptrdiff_t csa, const float *bm, ptrdiff_t rsb,
                  ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc,
                  const sm__epilogue *epi)
{
    if (m == 0 || n == 0)
        return;
    if (b && b->isa != SM__ISA_NONE && (m == 1 || workspace(b))) {
        sm__gemm_run_ex(b->isa, b->ws, m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, rsc,
                        csc, epi);
        return;
    }
    /* In passes: C preset to the bias and added to (beta = 1), then the
     * activation over the rows. */
    if (epi && epi->bias) {
        sm__set_rows_to_bias(epi->bias, m, n, c, rsc, csc);
        beta = 1.0f;
    }
    if (b)
        sgemm_blis(b, m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, rsc, csc);
    else
        sgemm_ref(m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, rsc, csc);
    sm__epilogue_apply(epi, c, rsc, 0, 0, m, n);
}

static void sgemm_blis(sm__blas *b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       ptrdiff_t rsa, ptrdiff_t csa, const float *bm, ptrdiff_t rsb,
                       ptrdiff_t csb, float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    if (m == 1) {
        /* One row (a network evaluated on one point): C = A·B is the
         * matrix-vector product Bᵀ·a. BLIS 0.9's sgemm packs all of B and
         * allocates its thread information on every call, which for one
         * row of a 256-wide layer costs ten times the arithmetic; sgemv
         * reads B once and allocates nothing. */
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)k, &alpha,
                     (float *)bm, (inc_t)csb, (inc_t)rsb, (float *)a, (inc_t)csa, &beta, c,
                     (inc_t)csc, NULL, &b->rntm);
        return;
    }
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k,
                 &alpha, (float *)a, (inc_t)rsa, (inc_t)csa, (float *)bm, (inc_t)rsb,
                 (inc_t)csb, &beta, c, (inc_t)rsc, (inc_t)csc, NULL, &b->rntm);
}

static void dgemm_ref(size_t m, size_t n, size_t k, double alpha, const double *a,
                      ptrdiff_t rsa, ptrdiff_t csa, const double *bm, ptrdiff_t rsb,
                      ptrdiff_t csb, double beta, double *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++)
                acc += a[(ptrdiff_t)i * rsa + (ptrdiff_t)p * csa] *
                       bm[(ptrdiff_t)p * rsb + (ptrdiff_t)j * csb];
            double *cij = &c[(ptrdiff_t)i * rsc + (ptrdiff_t)j * csc];
            *cij = alpha * acc + (beta == 0.0 ? 0.0 : beta * *cij);
        }
}

void sm__dgemm(sm__blas *b, size_t m, size_t n, size_t k, double alpha, const double *a,
               ptrdiff_t rsa, ptrdiff_t csa, const double *bm, ptrdiff_t rsb,
               ptrdiff_t csb, double beta, double *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    if (m == 0 || n == 0)
        return;
    if (!b) {
        dgemm_ref(m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, rsc, csc);
        return;
    }
    bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k,
                 &alpha, (double *)a, (inc_t)rsa, (inc_t)csa, (double *)bm, (inc_t)rsb,
                 (inc_t)csb, &beta, c, (inc_t)rsc, (inc_t)csc, NULL, &b->rntm);
}
