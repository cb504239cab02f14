/* One task of the side-by-side benchmark suite, timed inside this process.
 *
 * bench/side_by_side.py runs this program and bench/torch/side_tasks.py
 * (the same tasks in PyTorch) alternately and prints the ratios. Each run
 * does one task once and prints one line:
 *
 *   task=NAME threads=T kernels=BLIS-CONFIG seconds=S units=U unit=WHAT
 *
 * where S is the time of the timed part (not the set-up) and U/S the rate.
 * Tasks (the same definitions as side_tasks.py):
 *
 *   lab-train     the lab's training: two moons (4000 points, noise 0.05,
 *                 standardized), 3 → 128 → 128 → 128 → 2 (SiLU, the lab's
 *                 x ‖ log σ input), 10 geometric levels 1 → 0.01, DSM, Adam
 *                 10⁻³, batch 256; --steps (3000) steps; unit: steps
 *   lab-sample    the lab's sampler: annealed Langevin, 2000 points (--points),
 *                 10 levels × 20 steps, step ratio 0.2, on the lab's network
 *                 (random weights); unit: points
 *   digits-train  EDM training at width 512 on the 64-d digits (the 1198
 *                 training rows, pixel/8 − 1): 65 → 512 → 512 → 512 → 64,
 *                 log-normal σ, Adam 2·10⁻⁴, batch 256; --steps (2000);
 *                 unit: steps
 *   throughput    EDM Heun sampling, 18 Karras levels (35 evaluations),
 *                 --points (1000) points of the width-512 64-d model
 *                 (random weights, σ_data 0.5); unit: points
 *   latency       one conditional sample of bench-latency's model (7-d x,
 *                 context 32, 41 → 256 → 256 → 256 → 7, EDM Heun, 35
 *                 evaluations); the median of --repeats (200) samples after
 *                 a tenth as many warm-up ones; unit: samples (seconds is the
 *                 median time of one)
 *
 * This program sets no environment variable: it runs the library as any
 * program linking it does, with the BLIS kernels BLIS picks for this CPU.
 * --choose-kernels first calls choose_blis_kernels() as the examples do
 * (examples/blis_kernels.h), which sets BLIS_ARCH_TYPE for this process.
 *
 * usage: bench-side --task NAME [--threads T] [--steps N] [--points N]
 *                   [--repeats N] [--data FILE] [--choose-kernels]
 */
#define _GNU_SOURCE 1
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scorematch.h>

#include "../examples/blis_kernels.h"

#ifndef DIGITS_CSV
#define DIGITS_CSV "examples/data/digits.csv"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK(call)                                                                        \
    do {                                                                                   \
        sm_status st_ = (call);                                                            \
        if (st_) {                                                                         \
            fprintf(stderr, "bench-side: %s: %s\n", sm_strerror(st_), sm_last_error());   \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *task, *data;
    size_t threads, steps, points, repeats;
} args;

static sm_net *make_net(size_t dim, size_t width, size_t ctx, sm_parametrization param,
                        double sigma_data, size_t threads, sm_rng *rng)
{
    sm_net *net = NULL;
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = dim;
    o.width = width;
    o.depth = 3;
    o.parametrization = param;
    o.sigma_data = sigma_data;
    o.context_dim = ctx;
    CHECK(sm_net_new_ex(&net, &o, rng));
    CHECK(sm_net_set_threads(net, threads));
    return net;
}

/* Times `steps` training steps (after 20 untimed ones). */
static double train(sm_net *net, const sm_schedule *sched, double lr, const sm_dataset *data,
                    size_t steps, sm_rng *rng)
{
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    CHECK(sm_optim_new_adam(&opt, sm_net_num_params(net), lr, 0.9, 0.999, 1e-8, 0));
    CHECK(sm_trainer_new(&tr, net, sched, opt, 256));
    CHECK(sm_trainer_fit(tr, data, 20, rng, NULL, NULL, NULL));
    const double t0 = now();
    CHECK(sm_trainer_fit(tr, data, steps, rng, NULL, NULL, NULL));
    const double t = now() - t0;
    sm_trainer_free(tr);
    sm_optim_free(opt);
    return t;
}

/* Times one run of the sampler on n points (after one untimed run on a
 * tenth of them). */
static double sample(sm_sampler *smp, size_t n, size_t dim, sm_rng *rng)
{
    float *x = malloc(n * dim * sizeof(float));
    if (!x)
        exit(1);
    CHECK(sm_sampler_run(smp, rng, x, n / 10 ? n / 10 : 1, dim));
    const double t0 = now();
    CHECK(sm_sampler_run(smp, rng, x, n, dim));
    const double t = now() - t0;
    free(x);
    return t;
}

static double digits_train(const args *a, sm_rng *rng)
{
    sm_dataset *all = NULL, *tr = NULL;
    CHECK(sm_dataset_read_csv(&all, a->data));
    const size_t n = sm_dataset_size(all), d = sm_dataset_dim(all);
    if (d != 64) {
        fprintf(stderr, "bench-side: %s has %zu columns, not 64\n", a->data, d);
        exit(1);
    }
    float *u = malloc(n * d * sizeof(float));
    if (!u)
        exit(1);
    size_t m = 0;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 2)
            continue; /* held out, as in the digits example */
        const float *row = sm_dataset_row(all, i);
        for (size_t j = 0; j < d; j++) {
            const float v = row[j] / 8.0f - 1.0f;
            u[m * d + j] = v;
            sum += v;
            sum2 += (double)v * v;
        }
        m++;
    }
    const double mean = sum / (double)(m * d);
    double sd = sum2 / (double)(m * d) - mean * mean;
    sd = sd > 0 ? sqrt(sd) : 1.0;
    CHECK(sm_dataset_new(&tr, u, m, d));
    free(u);
    sm_dataset_free(all);
    sm_net *net = make_net(64, 512, 0, SM_PARAM_EDM, sd, a->threads, rng);
    sm_schedule *grid = NULL;
    CHECK(sm_schedule_new_karras(&grid, 80.0, 0.002, 18, 7.0));
    const double t = train(net, grid, 2e-4, tr, a->steps, rng);
    sm_schedule_free(grid);
    sm_net_free(net);
    sm_dataset_free(tr);
    return t;
}

static double latency(const args *a, sm_rng *rng)
{
    enum { DIM = 7, CTX = 32 };
    sm_net *net = make_net(DIM, 256, CTX, SM_PARAM_EDM, 0.5, a->threads, rng);
    float ctx[CTX], x[DIM];
    for (size_t j = 0; j < CTX; j++)
        ctx[j] = (float)sm_rng_normal(rng);
    sm_schedule *grid = NULL;
    sm_sampler *smp = NULL;
    CHECK(sm_schedule_new_karras(&grid, 80.0, 0.002, 18, 7.0));
    CHECK(sm_sampler_new(&smp, net, grid));
    CHECK(sm_sampler_set_kind(smp, SM_SAMPLER_EDM_HEUN));
    CHECK(sm_sampler_set_context(smp, ctx, 1, CTX));
    double *t = malloc(a->repeats * sizeof *t);
    if (!t)
        exit(1);
    for (size_t i = 0; i < a->repeats / 10 + 1; i++)
        CHECK(sm_sampler_run(smp, rng, x, 1, DIM));
    for (size_t i = 0; i < a->repeats; i++) {
        const double t0 = now();
        CHECK(sm_sampler_run(smp, rng, x, 1, DIM));
        t[i] = now() - t0;
    }
    qsort(t, a->repeats, sizeof *t, cmp_double);
    const size_t r = a->repeats;
    const double med = r % 2 ? t[r / 2] : 0.5 * (t[r / 2 - 1] + t[r / 2]);
    free(t);
    sm_sampler_free(smp);
    sm_schedule_free(grid);
    sm_net_free(net);
    return med;
}

int main(int argc, char **argv)
{
    args a = {.task = NULL, .data = DIGITS_CSV, .threads = 1, .steps = 0, .points = 0,
              .repeats = 200};
    int choose = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const long x = v ? atol(v) : 0;
        if (!strcmp(f, "--choose-kernels")) {
            choose = 1;
            continue;
        }
        if (v && !strcmp(f, "--task"))
            a.task = v;
        else if (v && !strcmp(f, "--data"))
            a.data = v;
        else if (v && x >= 1 && x <= 256 && !strcmp(f, "--threads"))
            a.threads = (size_t)x;
        else if (v && x >= 1 && !strcmp(f, "--steps"))
            a.steps = (size_t)x;
        else if (v && x >= 1 && !strcmp(f, "--points"))
            a.points = (size_t)x;
        else if (v && x >= 1 && !strcmp(f, "--repeats"))
            a.repeats = (size_t)x;
        else
            a.task = NULL, i = argc;
        i++;
    }
    static const char *const tasks[] = {"lab-train", "lab-sample", "digits-train", "throughput",
                                        "latency"};
    int k = -1;
    for (int i = 0; a.task && i < 5; i++)
        if (!strcmp(a.task, tasks[i]))
            k = i;
    if (k < 0) {
        fprintf(stderr, "usage: %s --task lab-train|lab-sample|digits-train|throughput|latency "
                        "[--threads T] [--steps N] [--points N] [--repeats N] [--data FILE] "
                        "[--choose-kernels]\n", argv[0]);
        return 2;
    }
    if (choose)
        choose_blis_kernels();

    sm_rng *rng = NULL;
    CHECK(sm_rng_new(&rng, 0));
    double seconds = 0;
    size_t units = 0;
    const char *unit = "steps";
    if (k == 0) { /* lab-train */
        sm_dataset *moons = NULL;
        sm_schedule *sched = NULL;
        CHECK(sm_toy_moons(&moons, 4000, 0.05, 1, rng));
        CHECK(sm_dataset_standardize(moons));
        CHECK(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
        sm_net *net = make_net(2, 128, 0, SM_PARAM_LAB, 0, a.threads, rng);
        units = a.steps ? a.steps : 3000;
        seconds = train(net, sched, 1e-3, moons, units, rng);
        sm_net_free(net);
        sm_schedule_free(sched);
        sm_dataset_free(moons);
    } else if (k == 1) { /* lab-sample */
        sm_schedule *sched = NULL;
        sm_sampler *smp = NULL;
        CHECK(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
        sm_net *net = make_net(2, 128, 0, SM_PARAM_LAB, 0, a.threads, rng);
        CHECK(sm_sampler_new(&smp, net, sched));
        CHECK(sm_sampler_set_steps_per_scale(smp, 20));
        CHECK(sm_sampler_set_step_ratio(smp, 0.2));
        units = a.points ? a.points : 2000;
        unit = "points";
        seconds = sample(smp, units, 2, rng);
        sm_sampler_free(smp);
        sm_net_free(net);
        sm_schedule_free(sched);
    } else if (k == 2) { /* digits-train */
        units = a.steps ? a.steps : 2000;
        a.steps = units;
        seconds = digits_train(&a, rng);
    } else if (k == 3) { /* throughput */
        sm_schedule *grid = NULL;
        sm_sampler *smp = NULL;
        sm_net *net = make_net(64, 512, 0, SM_PARAM_EDM, 0.5, a.threads, rng);
        CHECK(sm_schedule_new_karras(&grid, 80.0, 0.002, 18, 7.0));
        CHECK(sm_sampler_new(&smp, net, grid));
        CHECK(sm_sampler_set_kind(smp, SM_SAMPLER_EDM_HEUN));
        units = a.points ? a.points : 1000;
        unit = "points";
        seconds = sample(smp, units, 64, rng);
        sm_sampler_free(smp);
        sm_schedule_free(grid);
        sm_net_free(net);
    } else { /* latency */
        units = 1;
        unit = "samples";
        seconds = latency(&a, rng);
    }
    printf("task=%s threads=%zu kernels=%s seconds=%.6f units=%zu unit=%s\n", a.task, a.threads,
           sm_blas_config(), seconds, units, unit);
    sm_rng_free(rng);
    return 0;
}
