/* Throughput of the nearest-neighbour metrics at 10^4, 10^5 and 10^6 points
 * (real and generated sets of equal size N, two moons, 2-D, standardized),
 * and how the time grows compared with N log N.
 *
 * Usage: bench-metrics [max_n]   (default 1000000)
 *
 * For each metric and N it prints the best time over repeats (repeats until
 * about half a second has been spent, at least one), the throughput in
 * points per second (N real + N generated), and t(N) / (N log N) divided by
 * the same ratio at the smallest N: values near 1 mean N log N growth,
 * values near N/N_min would mean quadratic growth. Timings are not
 * assertions; nothing here is a test. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scorematch.h>

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

int main(int argc, char **argv)
{
    size_t max_n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
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
    return 0;
}
