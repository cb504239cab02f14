/* Throughput of the nearest-neighbour metrics at 10^4, 10^5 and 10^6 points
 * (real and generated sets of equal size N, two moons, 2-D, standardized),
 * and how the time grows compared with N log N; then the k-d tree against
 * the blocked brute force in 2 to 64 dimensions.
 *
 * Usage: bench-metrics [max_n [n_dims]]   (defaults 1000000 and 2000)
 *
 * For each metric and N it prints the best time over repeats (repeats until
 * about half a second has been spent, at least one), the throughput in
 * points per second (N real + N generated), and t(N) / (N log N) divided by
 * the same ratio at the smallest N: values near 1 mean N log N growth,
 * values near N/N_min would mean quadratic growth.
 *
 * The second table times sm_metric_prdc() (all four outputs) and
 * sm_metric_coverage_precision() (radius 0.5·√d) with each search method
 * forced (metrics-private.h), n_dims real against n_dims generated points, for
 * d = 2, 8, 12, 16, 32, 64 and two kinds of data: "gauss", N(0, I) against
 * N(0.3, 1.2² I) (full-dimensional, a k-d tree's worst case), and "moons",
 * two moons (noise 0.05 and 0.07) placed in d dimensions by a random
 * rotation plus N(0, 0.01² I) noise (a 2-D set in d dimensions, where a tree
 * keeps pruning). It prints the best times and tree time / brute-force time,
 * and checks that both methods give the same values. The threshold of
 * SM__KNN_AUTO (knn-private.h) was chosen from this table. Like the
 * examples, the program selects BLIS's AVX-512 or AVX2 kernels for itself
 * unless BLIS_ARCH_TYPE is set (examples/blis_kernels.h); the kernel set in
 * use is printed. Timings are not assertions; nothing here is a test. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scorematch.h>

#include "../examples/blis_kernels.h"
#include "metrics-private.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK(expr)                                                                  \
    do {                                                                             \
        sm_status st_ = (expr);                                                      \
        if (st_ != SM_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #expr, sm_strerror(st_),        \
                    sm_last_error());                                                \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

enum { M_COVERAGE, M_COVERAGE_SMALL, M_COV_PREC, M_PRDC, N_METRICS };
/* Radius 0.15 (the lab's) saturates at these sizes, so every query stops at
 * its first hit; radius 0.003 leaves part of the set uncovered and makes
 * the misses, which must search further, visible too. */
static const char *metric_name[N_METRICS] = {"coverage r=0.15", "coverage r=0.003",
                                             "coverage+precision", "prdc (P,R,D,C)"};

typedef struct sets {
    const float *x, *y;
    size_t n;
    double out[4];
} sets;

static void run(int metric, sets *s)
{
    switch (metric) {
    case M_COVERAGE:
        CHECK(sm_metric_coverage(s->x, s->n, s->y, s->n, 2, 0.15, &s->out[0], NULL));
        break;
    case M_COVERAGE_SMALL:
        CHECK(sm_metric_coverage(s->x, s->n, s->y, s->n, 2, 0.003, &s->out[0], NULL));
        break;
    case M_COV_PREC:
        CHECK(sm_metric_coverage_precision(s->x, s->n, s->y, s->n, 2, 0.15, &s->out[0],
                                           &s->out[1], NULL));
        break;
    default:
        CHECK(sm_metric_prdc(s->x, s->n, s->y, s->n, 2, 0, 0, &s->out[0], &s->out[1],
                             &s->out[2], &s->out[3], NULL));
    }
}

/* ---- tree against brute force by dimension ------------------------------ */

/* n real (gen = 0) or generated (gen = 1) points of the given kind in dim
 * dimensions (see the file comment); rot places the moons. */
static float *dim_points(int moons, int gen, size_t n, size_t dim, const double *rot,
                         sm_rng *r)
{
    float *x = malloc(n * dim * sizeof(float));
    if (!x)
        exit(1);
    if (!moons) {
        CHECK(sm_rng_fill_normal(r, x, n * dim, gen ? 0.3f : 0.0f, gen ? 1.2f : 1.0f));
        return x;
    }
    sm_dataset *ds;
    CHECK(sm_toy_moons(&ds, n, gen ? 0.07 : 0.05, 1, r));
    const float *p = sm_dataset_data(ds);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            double v = rot[j * 2] * p[2 * i] + rot[j * 2 + 1] * p[2 * i + 1];
            x[i * dim + j] = (float)(v + 0.01 * sm_rng_normal(r));
        }
    sm_dataset_free(ds);
    return x;
}

/* Two orthonormal columns of a dim × 2 matrix (Gram–Schmidt on normals). */
static void random_plane(size_t dim, double *rot, sm_rng *r)
{
    for (int c = 0; c < 2; c++) {
        for (size_t j = 0; j < dim; j++)
            rot[j * 2 + c] = dim == 2 ? (double)(j == (size_t)c) : sm_rng_normal(r);
        if (c == 1) {
            double d = 0;
            for (size_t j = 0; j < dim; j++)
                d += rot[j * 2] * rot[j * 2 + 1];
            for (size_t j = 0; j < dim; j++)
                rot[j * 2 + 1] -= d * rot[j * 2];
        }
        double nn = 0;
        for (size_t j = 0; j < dim; j++)
            nn += rot[j * 2 + c] * rot[j * 2 + c];
        for (size_t j = 0; j < dim; j++)
            rot[j * 2 + c] /= sqrt(nn);
    }
}

/* Best time of one metric with one method; out[] receives its values. */
static double time_method(int prdc, sm__knn_method m, const float *x, const float *y,
                          size_t n, size_t dim, double *out)
{
    double best = INFINITY, spent = 0.0;
    for (int reps = 0; reps < 1 || (spent < 0.3 && reps < 20); reps++) {
        double t0 = now();
        if (prdc)
            CHECK(sm__metric_prdc_with(m, x, n, y, n, dim, 0, 0, &out[0], &out[1], &out[2],
                                       &out[3], NULL));
        else
            CHECK(sm__metric_coverage_precision_with(m, "bench", x, n, y, n, dim,
                                                     0.5 * sqrt((double)dim), &out[0],
                                                     &out[1], NULL));
        double t = now() - t0;
        spent += t;
        if (t < best)
            best = t;
    }
    return best;
}

static void tree_vs_brute(size_t n)
{
    const size_t dims[] = {2, 8, 12, 16, 32, 64};
    printf("\nk-d tree against blocked brute force, %zu real and %zu generated points, "
           "one thread, BLIS kernels \"%s\" (AUTO uses brute force from d = %d)\n",
           n, n, sm_blas_config(), SM__KNN_BRUTE_MIN_DIM);
    printf("%-6s %-20s %4s %11s %11s %11s %6s\n", "data", "metric", "d", "tree [s]",
           "brute [s]", "tree/brute", "same");
    for (int moons = 0; moons < 2; moons++)
        for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++) {
            size_t dim = dims[a];
            sm_rng *r;
            CHECK(sm_rng_new(&r, 4321 + dim));
            double *rot = malloc(dim * 2 * sizeof(double));
            if (!rot)
                exit(1);
            random_plane(dim, rot, r);
            float *x = dim_points(moons, 0, n, dim, rot, r);
            float *y = dim_points(moons, 1, n, dim, rot, r);
            for (int prdc = 1; prdc >= 0; prdc--) {
                double vt[4] = {0}, vb[4] = {0};
                double tt = time_method(prdc, SM__KNN_TREE, x, y, n, dim, vt);
                double tb = time_method(prdc, SM__KNN_BRUTE, x, y, n, dim, vb);
                int same = memcmp(vt, vb, sizeof vt) == 0;
                printf("%-6s %-20s %4zu %11.4f %11.4f %11.2f %6s\n", moons ? "moons" : "gauss",
                       prdc ? "prdc (P,R,D,C)" : "coverage+precision", dim, tt, tb, tt / tb,
                       same ? "yes" : "NO");
            }
            free(x);
            free(y);
            free(rot);
            sm_rng_free(r);
        }
}

int main(int argc, char **argv)
{
    choose_blis_kernels();
    size_t max_n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    size_t n_dims = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 2000;
    size_t ns[3] = {10000, 100000, 1000000};
    double ratio0[N_METRICS] = {0};

    printf("%-20s %9s %10s %14s %14s\n", "metric", "N", "time [s]", "points/s",
           "t/(NlogN) rel");
    for (int k = 0; k < 3 && ns[k] <= max_n; k++) {
        size_t n = ns[k];
        sm_rng *r;
        sm_dataset *real, *gen;
        CHECK(sm_rng_new(&r, 1234 + (uint64_t)k));
        CHECK(sm_toy_moons(&real, n, 0.05, 1, r));
        CHECK(sm_toy_moons(&gen, n, 0.07, 1, r));
        CHECK(sm_dataset_standardize(real));
        float *y = malloc(n * 2 * sizeof(float));
        if (!y)
            return 1;
        memcpy(y, sm_dataset_data(gen), n * 2 * sizeof(float));
        CHECK(sm_dataset_standardize_points(real, y, n, 2));
        sets s = {sm_dataset_data(real), y, n, {0}};

        for (int m = 0; m < N_METRICS; m++) {
            double best = INFINITY, spent = 0.0;
            int reps = 0;
            while (reps < 1 || (spent < 0.5 && reps < 50)) {
                double t0 = now();
                run(m, &s);
                double t = now() - t0;
                spent += t;
                reps++;
                if (t < best)
                    best = t;
            }
            double ratio = best / ((double)n * log((double)n));
            if (k == 0)
                ratio0[m] = ratio;
            printf("%-20s %9zu %10.4f %14.3e %14.2f", metric_name[m], n, best,
                   2.0 * (double)n / best, ratio / ratio0[m]);
            if (m == M_PRDC)
                printf("   P=%.3f R=%.3f D=%.3f C=%.3f\n", s.out[0], s.out[1], s.out[2],
                       s.out[3]);
            else if (m == M_COV_PREC)
                printf("   cov=%.3f prec=%.3f\n", s.out[0], s.out[1]);
            else
                printf("   cov=%.3f\n", s.out[0]);
        }

        /* The pairwise statistics are O((N+M)^2): shown at a fixed
         * subsample, so their cost does not depend on N. */
        double e, mmd, h, t0 = now();
        CHECK(sm_metric_energy_distance(s.x, n, y, n, 2, 2000, r, &e, NULL));
        double te = now() - t0;
        t0 = now();
        CHECK(sm_metric_mmd_rbf(s.x, n, y, n, 2, 0.0, 2000, r, &mmd, &h, NULL));
        double tm = now() - t0;
        printf("%-20s %9zu %10.4f %14s %14s   energy=%.5f (max_points 2000)\n",
               "energy distance", n, te, "-", "-", e);
        printf("%-20s %9zu %10.4f %14s %14s   mmd2=%.6f h=%.3f (max_points 2000)\n",
               "mmd rbf", n, tm, "-", "-", mmd, h);

        free(y);
        sm_dataset_free(real);
        sm_dataset_free(gen);
        sm_rng_free(r);
    }
    if (n_dims > 0)
        tree_vs_brute(n_dims);
    return 0;
}
