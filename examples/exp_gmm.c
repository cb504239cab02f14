/* A likelihood-based competitor: Gaussian mixtures fitted by EM (gmm.c)
 * against the score model on the lab's two moons. A 2-component mixture
 * (the lab's stretch goal), a 10-component one and the lab's score model
 * are each sampled 2000 times and measured the same way. */
#define _GNU_SOURCE 1 /* setenv, pthread_barrier_t in blis.h */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "exp_common.h"
#include "gmm.h"
#include "plot.h"
#include "progress.h"

#define PROG "exp_gmm"
#define N_SAMPLES 2000
#define MAX_ITER 500

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Fits 2- and 10-component full-covariance Gaussian mixtures by EM to the\n"
            "lab's two moons (4000 points, noise 0.05, standardized), trains the lab's\n"
            "score model, samples 2000 points from each and prints coverage@0.15,\n"
            "precision@0.15 and energy distance.\n\n"
            "  --seed N          seed of the EM initialisation, training and sampling (default 0)\n"
            "  --threads T       BLIS threads (default: the CPUs it may use)\n"
            "  --train-steps N   score model training steps (default 3000)\n"
            "  --png-dir DIR     write DIR/gmm2.png, DIR/gmm10.png, DIR/score.png%s\n"
            "  --help            this text\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

typedef struct {
    const char *name, *file;
    double fit_s, loglik, cov, prec, energy;
    size_t iters;
} row;

static int measure(const sm_dataset *data, const float *samples, sm_rng *metric_rng, row *r)
{
    const float *real = sm_dataset_data(data);
    size_t n = sm_dataset_size(data);
    EXP_TRY(PROG, sm_metric_coverage_precision(real, n, samples, N_SAMPLES, 2, 0.15, &r->cov,
                                               &r->prec, NULL));
    EXP_TRY(PROG, sm_metric_energy_distance(real, n, samples, N_SAMPLES, 2, 2000, metric_rng,
                                            &r->energy, NULL));
    return 0;
fail:
    return -1;
}

static int draw(const char *dir, const row *r, const sm_dataset *data, const float *samples)
{
    if (!dir)
        return 0;
    char path[4096], title[160], err[256];
    snprintf(path, sizeof path, "%s/%s.png", dir, r->file);
    snprintf(title, sizeof title, "%s: coverage %.3f, precision %.3f", r->name, r->cov, r->prec);
    plot_series s[2] = {
        {sm_dataset_data(data), sm_dataset_size(data), 0.12, 0.47, 0.71, 0.30, "real"},
        {samples, N_SAMPLES, 1.00, 0.50, 0.05, 0.45, "generated"},
    };
    if (plot_scatter_png(path, s, 2, title, 560, 480, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return -1;
    }
    return 0;
}

/* --png-dir DIR (ctx: the directory). */
static int own_flag(void *ctx, const char *a, const char *val)
{
    if (!val || strcmp(a, "--png-dir"))
        return -1;
    *(const char **)ctx = val;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, train_steps = 3000;
    size_t threads = exp_default_threads();
    const char *png_dir = NULL;
    int status = exp_parse_args(argc, argv, PROG, usage, own_flag, &png_dir, &seed, &threads,
                                &train_steps);
    if (status >= 0)
        return status;

    int rc = 1;
    sm_rng *data_rng = NULL, *rng = NULL, *metric_rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL;
    sm_sampler *smp = NULL;
    gmm g = {0};
    float *samples = malloc(N_SAMPLES * 2 * sizeof *samples);
    double *trace = malloc(MAX_ITER * sizeof *trace);
    row rows[3] = {{.name = "GMM k=2", .file = "gmm2"},
                   {.name = "GMM k=10", .file = "gmm10"},
                   {.name = "score model", .file = "score"}};
    if (!samples || !trace) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto fail;
    }
    EXP_TRY(PROG, sm_rng_new(&data_rng, 0));
    EXP_TRY(PROG, sm_toy_moons(&data, 4000, 0.05, 1, data_rng));
    EXP_TRY(PROG, sm_dataset_standardize(data));
    EXP_TRY(PROG, sm_rng_new(&rng, seed));
    EXP_TRY(PROG, sm_rng_new(&metric_rng, seed + 1000));
    const float *x = sm_dataset_data(data);
    size_t n = sm_dataset_size(data);

    const size_t ks[2] = {2, 10};
    for (size_t j = 0; j < 2; j++) {
        row *r = &rows[j];
        double t0 = progress_now();
        if (gmm_fit(&g, x, n, 2, ks[j], MAX_ITER, 1e-7, 1e-6, rng, trace, &r->iters)) {
            fprintf(stderr, "%s: EM failed for k=%zu\n", PROG, ks[j]);
            goto fail;
        }
        r->fit_s = progress_now() - t0;
        r->loglik = trace[r->iters - 1];
        for (size_t i = 1; i < r->iters; i++)
            if (trace[i] < trace[i - 1] - 1e-9)
                fprintf(stderr, "%s: warning: log-likelihood decreased at iteration %zu\n", PROG,
                        i);
        if (gmm_sample(&g, rng, samples, N_SAMPLES) || measure(data, samples, metric_rng, r) ||
            draw(png_dir, r, data, samples))
            goto fail;
        gmm_free(&g);
    }

    row *r = &rows[2];
    double final_loss = NAN;
    EXP_TRY(PROG, exp_train(data, 1.0, train_steps, threads, rng, isatty(2), &net, &sched,
                            &final_loss, &r->fit_s));
    EXP_TRY(PROG, sm_sampler_new(&smp, net, sched));
    EXP_TRY(PROG, sm_sampler_run(smp, rng, samples, N_SAMPLES, 2));
    r->loglik = NAN;
    if (measure(data, samples, metric_rng, r) || draw(png_dir, r, data, samples))
        goto fail;

    printf("%-12s %8s %6s %12s %9s %10s %9s\n", "model", "fit_s", "iters", "mean_loglik",
           "coverage", "precision", "energy");
    for (size_t j = 0; j < 3; j++) {
        if (j < 2)
            printf("%-12s %8.2f %6zu %12.4f", rows[j].name, rows[j].fit_s, rows[j].iters,
                   rows[j].loglik);
        else
            printf("%-12s %8.2f %6s %12s", rows[j].name, rows[j].fit_s, "-", "-");
        printf(" %9.4f %10.4f %9.5f\n", rows[j].cov, rows[j].prec, rows[j].energy);
    }
    rc = 0;
fail:
    gmm_free(&g);
    free(trace);
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
