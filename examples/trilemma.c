/* The quality / diversity / speed trilemma: one lab model (two moons, lab
 * training), sampled by every sampler of the library at several budgets of
 * network evaluations (NFE). Prints time, coverage, precision and energy
 * distance per sampler and budget, with a reference row for fresh data,
 * and draws precision and energy distance against NFE.
 *
 * Metrics: coverage and precision at radius 0.15 (the lab's), and the exact
 * energy distance between the samples and the 4000 data points.
 *
 * How each sampler spends a budget B (all end with the final denoising
 * step, one NFE, and walk σ from 1 to 0.01, the trained range):
 *   langevin   L levels × T steps, geometric grid: T = max(1, (B − 1)/10), L = (B − 1)/T
 *   pc         L levels, one corrector step each, geometric grid: L = B/2
 *   ode-euler  L = B levels, Karras grid (ρ = 7)
 *   ode-heun   L = (B + 1)/2 levels, Karras grid (ρ = 7)
 */
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

#define PROG "trilemma"
#define SIGMA_MAX 1.0
#define SIGMA_MIN 0.01

static const size_t budgets[] = {10, 20, 50, 100, 200, 1000};
#define N_B (sizeof budgets / sizeof budgets[0])
static const sm_sampler_kind kinds[] = {SM_SAMPLER_LANGEVIN, SM_SAMPLER_PC,
                                        SM_SAMPLER_ODE_EULER, SM_SAMPLER_ODE_HEUN};
#define N_KIND (sizeof kinds / sizeof kinds[0])

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains the lab model on two moons once, then samples with annealed Langevin,\n"
            "predictor-corrector, and the probability-flow ODE (Euler, Heun) at budgets of\n"
            "10, 20, 50, 100, 200 and 1000 network evaluations per sample. Prints sampler,\n"
            "NFE, time, coverage@0.15, precision@0.15 and energy distance.\n\n"
            "  --seed N          model/training/sampling seed (default 0)\n"
            "  --threads T       threads of the network (default: the CPUs it may use)\n"
            "  --train-steps N   training steps (default 3000, the lab's)\n"
            "  --samples N       samples per run (default 5000)\n"
            "  --snr X           predictor-corrector's target signal-to-noise ratio (default 0.16)\n"
            "  --init-std X      start of pc and ode: N(0, X^2 I) (default sqrt(2), the std of\n"
            "                    p_sigma_max for the standardized data; Langevin starts from N(0, I))\n"
            "  --ema DECAY       sample from an exponential moving average of the weights\n"
            "                    kept during training (e.g. 0.99; default off)\n"
            "  --oracle-start    diagnosis: start pc and ode from the exact p_sigma_max (data\n"
            "                    plus noise) instead of a Gaussian, to separate the prior's\n"
            "                    error from the score's\n"
            "  --png PATH        precision against NFE as a line chart%s\n"
            "  --png-energy PATH energy distance (log10) against NFE\n"
            "  --help            this text\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

/* The grid and settings for one sampler and budget; *grid is the caller's. */
static sm_status configure(sm_sampler **smp, sm_net *net, sm_schedule **grid,
                           sm_sampler_kind kind, size_t budget, double snr, double init_std)
{
    size_t levels = 0, steps = 1;
    sm_status st;
    switch (kind) {
    case SM_SAMPLER_LANGEVIN:
        steps = (budget - 1) / 10 > 1 ? (budget - 1) / 10 : 1;
        levels = (budget - 1) / steps;
        st = sm_schedule_new_geometric(grid, SIGMA_MAX, SIGMA_MIN, levels);
        break;
    case SM_SAMPLER_PC:
        st = sm_schedule_new_geometric(grid, SIGMA_MAX, SIGMA_MIN, budget / 2);
        break;
    case SM_SAMPLER_ODE_EULER:
        st = sm_schedule_new_karras(grid, SIGMA_MAX, SIGMA_MIN, budget, 7.0);
        break;
    default:
        st = sm_schedule_new_karras(grid, SIGMA_MAX, SIGMA_MIN, (budget + 1) / 2, 7.0);
        break;
    }
    if (st == SM_OK)
        st = sm_sampler_new(smp, net, *grid);
    if (st == SM_OK)
        st = sm_sampler_set_kind(*smp, kind);
    if (st == SM_OK)
        st = sm_sampler_set_steps_per_scale(*smp, steps);
    if (st == SM_OK)
        st = sm_sampler_set_corrector(*smp, 1, snr);
    if (st == SM_OK)
        st = sm_sampler_set_final_denoise(*smp, 1);
    if (st == SM_OK && init_std > 0)
        st = sm_sampler_set_init_normal(*smp, init_std);
    return st;
}

typedef struct {
    uint64_t n_samples;
    double ema_decay, snr, init_std;
    int oracle_start;
    const char *png, *png_energy;
} options;

/* A positive finite number, or -1 for anything else. */
static double positive(const char *val)
{
    char *end;
    double x = strtod(val, &end);
    return end != val && !*end && isfinite(x) && x > 0 ? x : -1.0;
}

/* The flags of this program (see usage()). */
static int own_flag(void *ctx, const char *a, const char *val)
{
    options *o = ctx;
    uint64_t u;
    if (!strcmp(a, "--oracle-start")) {
        o->oracle_start = 1;
        return 0;
    }
    if (!val)
        return -1;
    if (!strcmp(a, "--samples") && !exp_parse_u64(val, &u) && u >= 10 && u <= 1000000)
        o->n_samples = u;
    else if (!strcmp(a, "--snr") && positive(val) > 0)
        o->snr = positive(val);
    else if (!strcmp(a, "--ema") && positive(val) > 0 && positive(val) < 1)
        o->ema_decay = positive(val);
    else if (!strcmp(a, "--init-std") && positive(val) > 0)
        o->init_std = positive(val);
    else if (!strcmp(a, "--png"))
        o->png = val;
    else if (!strcmp(a, "--png-energy"))
        o->png_energy = val;
    else
        return -1;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, train_steps = 3000;
    size_t threads = exp_default_threads();
    /* p_σ₁ of standardized data has variance σ₁² + 1 per coordinate: with
     * the lab's σ₁ = 1 the VE prior N(0, σ₁²I) is far too narrow, and the
     * ODE, which cannot correct its start, would shrink the moons. */
    options o = {.n_samples = 5000, .snr = 0.16, .init_std = sqrt(SIGMA_MAX * SIGMA_MAX + 1.0)};
    int status = exp_parse_args(argc, argv, PROG, usage, own_flag, &o, &seed, &threads,
                                &train_steps);
    if (status >= 0)
        return status;
    const uint64_t n_samples = o.n_samples;
    const double ema_decay = o.ema_decay, snr = o.snr, init_std = o.init_std;
    const int oracle_start = o.oracle_start;
    const char *png = o.png, *png_energy = o.png_energy;

    int rc = 1;
    const size_t n = (size_t)n_samples;
    sm_rng *data_rng = NULL, *rng = NULL, *metric_rng = NULL, *fresh_rng = NULL;
    sm_dataset *data = NULL, *fresh = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_schedule *sched = NULL, *grid = NULL;
    sm_sampler *smp = NULL;
    float *samples = malloc(n * 2 * sizeof *samples);
    float *fresh_pts = malloc(n * 2 * sizeof *fresh_pts);
    double prec[N_KIND][N_B], energy[N_KIND][N_B];
    if (!samples || !fresh_pts) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto fail;
    }

    EXP_TRY(PROG, sm_rng_new(&data_rng, 0));
    EXP_TRY(PROG, sm_toy_moons(&data, 4000, 0.05, 1, data_rng));
    EXP_TRY(PROG, sm_rng_new(&rng, seed));
    EXP_TRY(PROG, sm_rng_new(&metric_rng, seed + 1000));
    EXP_TRY(PROG, sm_rng_new(&fresh_rng, seed + 2000));
    /* Reference: fresh points of the true distribution, standardized like
     * the data (the lab's data set is standardized in place). */
    EXP_TRY(PROG, sm_toy_moons(&fresh, n, 0.05, 1, fresh_rng));
    EXP_TRY(PROG, sm_dataset_standardize(data));
    memcpy(fresh_pts, sm_dataset_data(fresh), n * 2 * sizeof *fresh_pts);
    EXP_TRY(PROG, sm_dataset_standardize_points(data, fresh_pts, n, 2));
    double final_loss = NAN, train_s = 0;
    EXP_TRY(PROG, exp_train_ema(data, SIGMA_MAX, train_steps, threads, rng, isatty(2), ema_decay,
                                &net, &ema, &sched, &final_loss, &train_s));
    fprintf(stderr, "%s: trained %llu steps in %.2f s (final loss %.4f), %zu threads, BLIS '%s'%s\n",
            PROG, (unsigned long long)train_steps, train_s, final_loss, threads,
            sm_blas_config(), ema ? ", sampling from the weights' moving average" : "");

    const float *real = sm_dataset_data(data);
    const size_t n_real = sm_dataset_size(data);
    double cov, p, e;
    printf("%-10s %6s %6s %8s %9s %10s %9s\n", "sampler", "budget", "NFE", "time_s", "coverage",
           "precision", "energy");
    EXP_TRY(PROG, sm_metric_coverage_precision(real, n_real, fresh_pts, n, 2, 0.15,
                                               &cov, &p, NULL));
    EXP_TRY(PROG, sm_metric_energy_distance(real, n_real, fresh_pts, n, 2, 0,
                                            metric_rng, &e, NULL));
    printf("%-10s %6s %6s %8s %9.4f %10.4f %9.5f\n", "true-data", "-", "-", "-", cov, p, e);
    for (size_t k = 0; k < N_KIND; k++) {
        for (size_t b = 0; b < N_B; b++) {
            EXP_TRY(PROG, configure(&smp, ema ? ema : net, &grid, kinds[k], budgets[b], snr, kinds[k] == SM_SAMPLER_LANGEVIN ? 0 : init_std));
            const int oracle = oracle_start && kinds[k] != SM_SAMPLER_LANGEVIN;
            if (oracle) /* exact p_σ₁: data points plus N(0, σ₁²I) noise */
                for (size_t i = 0; i < n; i++) {
                    size_t j = (size_t)(sm_rng_uniform(rng) * (double)n_real) % n_real;
                    for (int c = 0; c < 2; c++)
                        samples[i * 2 + c] = real[j * 2 + c] + (float)(SIGMA_MAX * sm_rng_normal(rng));
                }
            double t0 = progress_now();
            if (oracle)
                EXP_TRY(PROG, sm_sampler_run_from(smp, rng, samples, n, 2));
            else
                EXP_TRY(PROG, sm_sampler_run(smp, rng, samples, n, 2));
            double t = progress_now() - t0;
            size_t nonfinite = 0;
            EXP_TRY(PROG, sm_metric_coverage_precision(real, n_real, samples, n, 2, 0.15, &cov,
                                                       &prec[k][b], &nonfinite));
            EXP_TRY(PROG, sm_metric_energy_distance(real, n_real, samples, n, 2, 0,
                                                    metric_rng, &energy[k][b], NULL));
            printf("%-10s %6zu %6llu %8.3f %9.4f %10.4f %9.5f%s\n", sm_sampler_kind_name(kinds[k]),
                   budgets[b], (unsigned long long)sm_sampler_nfe(smp), t, cov, prec[k][b],
                   energy[k][b], nonfinite ? "  (non-finite samples)" : "");
            fflush(stdout);
            sm_sampler_free(smp);
            sm_schedule_free(grid);
            smp = NULL;
            grid = NULL;
        }
    }

    double x[N_B];
    for (size_t b = 0; b < N_B; b++)
        x[b] = (double)budgets[b];
    const double colour[N_KIND][3] = {
        {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}};
    plot_line lines[N_KIND];
    char err[256];
    if (png) {
        for (size_t k = 0; k < N_KIND; k++)
            lines[k] = (plot_line){prec[k], colour[k][0], colour[k][1], colour[k][2],
                                   sm_sampler_kind_name(kinds[k])};
        if (plot_lines_png(png, x, N_B, lines, N_KIND, "two moons: precision@0.15 vs NFE",
                           "network evaluations per sample (log scale)", "precision", 1, 560,
                           420, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            goto fail;
        }
    }
    if (png_energy) {
        double loge[N_KIND][N_B];
        for (size_t k = 0; k < N_KIND; k++) {
            for (size_t b = 0; b < N_B; b++)
                loge[k][b] = energy[k][b] > 0 ? log10(energy[k][b]) : NAN;
            lines[k] = (plot_line){loge[k], colour[k][0], colour[k][1], colour[k][2],
                                   sm_sampler_kind_name(kinds[k])};
        }
        if (plot_lines_png(png_energy, x, N_B, lines, N_KIND,
                           "two moons: energy distance vs NFE",
                           "network evaluations per sample (log scale)",
                           "log10 energy distance", 1, 560, 420, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            goto fail;
        }
    }
    rc = 0;
fail:
    free(fresh_pts);
    free(samples);
    sm_sampler_free(smp);
    sm_schedule_free(grid);
    sm_schedule_free(sched);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(fresh);
    sm_dataset_free(data);
    sm_rng_free(fresh_rng);
    sm_rng_free(metric_rng);
    sm_rng_free(rng);
    sm_rng_free(data_rng);
    return rc;
}
