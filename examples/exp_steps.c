/* The steps-per-scale trade: one lab model (two moons, 3000 steps), sampled
 * with K = 1, 2, 5, 10, 20, 50 Langevin steps per noise level. Prints a
 * table of NFE, time and quality per K and draws quality against K. */
#define _GNU_SOURCE 1 /* setenv, pthread_barrier_t in blis.h */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "exp_common.h"
#include "plot.h"
#include "progress.h"

#define PROG "exp_steps"
#define N_SAMPLES 2000

static const size_t ks[] = {1, 2, 5, 10, 20, 50};
#define N_K (sizeof ks / sizeof ks[0])

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains the lab model on two moons once, then samples 2000 points with\n"
            "K = 1, 2, 5, 10, 20, 50 Langevin steps per noise level and prints\n"
            "K, NFE, time, coverage@0.15, precision@0.15 and energy distance.\n\n"
            "  --seed N          model/training/sampling seed (default 0)\n"
            "  --threads T       BLIS threads (default: the CPUs it may use)\n"
            "  --train-steps N   training steps (default 3000)\n"
            "  --png PATH        quality against K as a line chart%s\n"
            "  --help            this text\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

/* --png PATH (ctx: the path). */
static int own_flag(void *ctx, const char *a, const char *val)
{
    if (!val || strcmp(a, "--png"))
        return -1;
    *(const char **)ctx = val;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, train_steps = 3000;
    size_t threads = exp_default_threads();
    const char *png = NULL;
    int status = exp_parse_args(argc, argv, PROG, usage, own_flag, &png, &seed, &threads,
                                &train_steps);
    if (status >= 0)
        return status;

    int rc = 1;
    sm_rng *data_rng = NULL, *rng = NULL, *metric_rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL;
    sm_sampler *smp = NULL;
    float *samples = malloc(N_SAMPLES * 2 * sizeof *samples);
    double cov[N_K], prec[N_K], energy[N_K];
    if (!samples) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }

    EXP_TRY(PROG, sm_rng_new(&data_rng, 0));
    EXP_TRY(PROG, sm_toy_moons(&data, 4000, 0.05, 1, data_rng));
    EXP_TRY(PROG, sm_dataset_standardize(data));
    EXP_TRY(PROG, sm_rng_new(&rng, seed));
    EXP_TRY(PROG, sm_rng_new(&metric_rng, seed + 1000));
    double final_loss = NAN, train_s = 0;
    EXP_TRY(PROG, exp_train(data, 1.0, train_steps, threads, rng, isatty(2), &net, &sched,
                            &final_loss, &train_s));
    fprintf(stderr, "%s: trained %llu steps in %.2f s (final loss %.4f), %zu threads, BLIS '%s'\n",
            PROG, (unsigned long long)train_steps, train_s, final_loss, threads,
            sm_blas_config());

    EXP_TRY(PROG, sm_sampler_new(&smp, net, sched));
    printf("%4s %6s %8s %10s %11s %10s\n", "K", "NFE", "time_s", "coverage", "precision",
           "energy");
    for (size_t i = 0; i < N_K; i++) {
        EXP_TRY(PROG, sm_sampler_set_steps_per_scale(smp, ks[i]));
        double t0 = progress_now();
        EXP_TRY(PROG, sm_sampler_run(smp, rng, samples, N_SAMPLES, 2));
        double t = progress_now() - t0;
        EXP_TRY(PROG, sm_metric_coverage_precision(sm_dataset_data(data), sm_dataset_size(data),
                                                   samples, N_SAMPLES, 2, 0.15, &cov[i],
                                                   &prec[i], NULL));
        EXP_TRY(PROG, sm_metric_energy_distance(sm_dataset_data(data), sm_dataset_size(data),
                                                samples, N_SAMPLES, 2, 2000, metric_rng,
                                                &energy[i], NULL));
        printf("%4zu %6llu %8.3f %10.4f %11.4f %10.5f\n", ks[i],
               (unsigned long long)sm_sampler_nfe(smp), t, cov[i], prec[i], energy[i]);
        fflush(stdout);
    }

    if (png) {
        double x[N_K];
        for (size_t i = 0; i < N_K; i++)
            x[i] = (double)ks[i];
        plot_line lines[2] = {
            {cov, 0.12, 0.47, 0.71, "coverage@0.15"},
            {prec, 1.00, 0.50, 0.05, "precision@0.15"},
        };
        char err[256];
        if (plot_lines_png(png, x, N_K, lines, 2, "two moons: sample quality vs steps per scale",
                           "Langevin steps per noise level K (log scale)", "fraction", 1,
                           560, 420, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            goto fail;
        }
    }
    rc = 0;
fail:
    free(samples);
    sm_sampler_free(smp);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(metric_rng);
    sm_rng_free(rng);
    sm_rng_free(data_rng);
    return rc;
}
