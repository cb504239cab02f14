/* The library's own matrix-product kernels against BLIS, shape by shape.
 *
 * Times, alternately in one run, the products of one training step of an
 * MLP (forward, weight gradient, input gradient; the strides the network
 * uses) through BLIS and through the library's kernels (lib/gemm.c), and
 * one-row products (a sample of one point) the same way: those of the
 * step's network, of bench-latency's network (41 → 256 → 256 → 256 → 7,
 * the control-loop sample) and its 256 × 256 product alone. Prints GFLOP/s
 * of each and their ratio. BLIS runs whatever kernels it picks for this CPU
 * (set BLIS_ARCH_TYPE to compare with a particular set).
 *
 * usage: bench-gemm [--rows R] [--dim D] [--width W] [--depth L] [--repeats N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scorematch.h>

#include "blas-private.h"
#include "gemm-private.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    size_t m, n, k;
    ptrdiff_t rsa, csa, rsb, csb, rsc, csc;
    float beta;
} shape;

/* The products of one training step on `rows` rows (net.c's strides). */
static size_t step_shapes(size_t rows, size_t dim, size_t width, size_t depth, shape *s)
{
    size_t n = 0;
    for (size_t l = 0; l <= depth; l++) {
        size_t fin = l == 0 ? dim + 1 : width, fout = l == depth ? dim : width;
        s[n++] = (shape){rows, fout, fin, (ptrdiff_t)fin, 1, 1, (ptrdiff_t)fin, (ptrdiff_t)fout, 1,
                         1.0f};
        s[n++] = (shape){fout, fin, rows, 1, (ptrdiff_t)fout, (ptrdiff_t)fin, 1, (ptrdiff_t)fin, 1,
                         1.0f};
        if (l)
            s[n++] = (shape){rows, fin, fout, (ptrdiff_t)fout, 1, (ptrdiff_t)fin, 1, (ptrdiff_t)fin, 1,
                             0.0f};
    }
    return n;
}

static double run(sm__blas *b, const shape *s, size_t ns, float *A, float *B, float *C, int reps)
{
    double t0 = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < ns; i++)
            sm__sgemm(b, s[i].m, s[i].n, s[i].k, 1.0f, A, s[i].rsa, s[i].csa, B, s[i].rsb,
                      s[i].csb, s[i].beta, C, s[i].rsc, s[i].csc);
    return now() - t0;
}

static void compare(const char *what, const shape *s, size_t ns, int reps, float *A, float *B,
                    float *C)
{
    sm__blas *blis = sm__blas_new(1), *own = sm__blas_new(1);
    sm__blas_use_blis(blis, 1);
    double flop = 0;
    for (size_t i = 0; i < ns; i++)
        flop += 2.0 * (double)s[i].m * (double)s[i].n * (double)s[i].k;
    run(blis, s, ns, A, B, C, 1);
    run(own, s, ns, A, B, C, 1);
    double tb = 0, to = 0;
    for (int r = 0; r < 5; r++) { /* alternate, so load changes hit both */
        tb += run(blis, s, ns, A, B, C, reps);
        to += run(own, s, ns, A, B, C, reps);
    }
    double gf = flop * reps * 5 * 1e-9;
    printf("%-10s BLIS (%s) %7.1f GFLOP/s   own (%s) %7.1f GFLOP/s   own/BLIS %.2f\n", what,
           sm_blas_config(), gf / tb, sm__blas_kernels(own), gf / to, tb / to);
    sm__blas_free(blis);
    sm__blas_free(own);
}

int main(int argc, char **argv)
{
    size_t rows = 256, dim = 64, width = 512, depth = 3;
    int reps = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--rows"))
            rows = v;
        else if (!strcmp(argv[i], "--dim"))
            dim = v;
        else if (!strcmp(argv[i], "--width"))
            width = v;
        else if (!strcmp(argv[i], "--depth"))
            depth = v;
        else if (!strcmp(argv[i], "--repeats"))
            reps = (int)v;
        else {
            fprintf(stderr, "usage: %s [--rows R] [--dim D] [--width W] [--depth L] [--repeats N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!rows || !dim || !width || depth > 16 || reps < 1) {
        fprintf(stderr, "bench-gemm: sizes must be positive, depth at most 16\n");
        return 2;
    }
    size_t big = (rows > width ? rows : width) * (width > dim + 1 ? width : dim + 1);
    if (big < 256 * 256)
        big = 256 * 256; /* the one-row shapes of bench-latency's network */
    /* On cache lines, as a network's parameters are (lib/net.c). */
    const size_t bytes = (big * sizeof(float) + 63) / 64 * 64;
    float *A = aligned_alloc(64, bytes), *B = aligned_alloc(64, bytes), *C = aligned_alloc(64, bytes);
    if (!A || !B || !C)
        return 1;
    for (size_t i = 0; i < big; i++) {
        A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        C[i] = 0.0f;
    }
    shape s[3 * 17];
    printf("rows=%zu net=%zu->%zux%zu->%zu repeats=%d\n", rows, dim + 1, width, depth, dim, reps);
    size_t ns = step_shapes(rows, dim, width, depth, s);
    compare("step", s, ns, reps, A, B, C);
    ns = step_shapes(1, dim, width, depth, s);
    compare("one row", s, ns, reps * 50, A, B, C);
    /* bench-latency's network on one row: x 7 + σ 1 + context 32 + 1 in. */
    static const size_t fin[4] = {41, 256, 256, 256}, fout[4] = {256, 256, 256, 7};
    for (size_t l = 0; l < 4; l++)
        s[l] = (shape){1, fout[l], fin[l], (ptrdiff_t)fin[l], 1, 1, (ptrdiff_t)fin[l],
                       (ptrdiff_t)fout[l], 1, 1.0f};
    compare("latency", s, 4, reps * 500, A, B, C);
    compare("256x256", s + 1, 1, reps * 1000, A, B, C);
    free(A);
    free(B);
    free(C);
    return 0;
}
